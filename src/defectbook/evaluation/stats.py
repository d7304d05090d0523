"""Statistics of the book's comparisons: intervals of paired differences, bootstrap intervals of
AUROC differences between methods and of TrustMAE's drop difference, and the verdict word of an
interval. Presentation (tables, sentences) is :mod:`defectbook.book.report`'s."""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from .. import DefectbookError
from ..config import data_label
from .metrics import auroc_difference


def interval(values: Iterable[float], level: float = 0.95) -> dict:
    """Mean of ``values`` (e.g. paired differences over categories and seeds) with a Student-t
    ``level`` interval: ``{"difference", "low", "high", "n"}``; ``low``/``high`` are NaN for n < 2."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    n = len(x)
    if n == 0:
        return {"difference": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    m = float(x.mean())
    if n < 2 or float(x.std(ddof=1)) == 0.0:
        half = float("nan") if n < 2 else 0.0
    else:
        half = float(scipy_stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return {"difference": m, "low": m - half, "high": m + half, "n": n}


def verdict_word(effect: dict, paper_sign: int = 1) -> str:
    """``reproduced``, ``reversed`` or ``undecided``: where the interval of ``effect`` lies
    (see :func:`defectbook.book.report.verdict`)."""
    d, lo, hi = (float(effect.get(k, float("nan"))) for k in ("difference", "low", "high"))
    if any(math.isnan(v) for v in (d, lo, hi)):
        return "undecided"
    if paper_sign * lo > 0 and paper_sign * hi > 0:
        return "reproduced"
    if paper_sign * lo < 0 and paper_sign * hi < 0:
        return "reversed"
    return "undecided"


def paired_differences(df: pd.DataFrame, by: str, a, b, value: str, pair_on=("data", "seed")) -> pd.Series:
    """``value`` of the rows with ``df[by] == a`` minus that of the rows with ``df[by] == b``, one per
    pair of ``pair_on`` (data set and seed: the same test images; the columns of ``pair_on`` the frame
    has); empty when ``a`` or ``b`` has no row."""
    if by not in df or value not in df or df[value].isna().all():
        return pd.Series(dtype=float)
    keys = [k for k in pair_on if k in df]
    if not keys:
        df, keys = df.assign(_all=0), ["_all"]
    wide = df.pivot_table(index=keys, columns=by, values=value, aggfunc="mean")
    if a not in wide or b not in wide:
        return pd.Series(dtype=float)
    return (wide[a] - wide[b]).dropna()


def paired_effect(df: pd.DataFrame, by: str, a, b, value: str, pair_on=("data", "seed")) -> dict:
    """:func:`paired_differences` as :func:`interval` (mean, interval, n)."""
    return interval(paired_differences(df, by, a, b, value, pair_on).values)


def method_differences(records: Iterable, pairs, n_boot: int = 2000, seed: int = 0,
                       level: float = 0.95) -> pd.DataFrame:
    """Image AUROC differences between methods scored on the same test images, with paired bootstrap
    intervals (:func:`defectbook.evaluation.metrics.auroc_difference`: test images resampled within each class,
    both AUROCs recomputed on every resample).

    ``pairs``: ``[(a, b), ...]``, the configs' ``method`` names (to compare variants of one method,
    call it once per variant with the records filtered). Records are paired by data set and seed; the two records of a
    pair must hold the same test set (identical labels and defect types, in order), else
    :class:`~defectbook.DefectbookError`. One row per pair found: ``data``, ``seed``, ``a``, ``b``,
    ``AUROC a``, ``AUROC b``, ``difference`` (a minus b), ``low``, ``high``, ``pixel difference`` (the
    pooled pixel AUROCs' difference, no interval; missing without masks), ``n_test`` and ``word``
    (:func:`verdict_word` with the paper's sign taken as a > b).
    """
    by: dict = {}
    for r in records:
        by.setdefault((data_label(r.config), r.config.get("seed")), {}).setdefault(r.config["method"], r)
    rows = []
    for (data, s), runs in sorted(by.items(), key=lambda kv: str(kv[0])):
        for a, b in pairs:
            if a not in runs or b not in runs:
                continue
            ra, rb = runs[a], runs[b]
            if ra.labels != rb.labels or ra.defects != rb.defects:
                raise DefectbookError(f"{data}, seed {s}: {a} and {b} were scored on different test sets; "
                                      f"a paired difference needs the same test images")
            d = auroc_difference(ra.labels, ra.scores, rb.scores, n_boot=n_boot, seed=seed, level=level)
            pa, pb = ra.metrics.get("pixel_auroc"), rb.metrics.get("pixel_auroc")
            rows.append({"data": data, "seed": s, "a": a, "b": b, "AUROC a": ra.metrics["image_auroc"],
                         "AUROC b": rb.metrics["image_auroc"], "difference": d["difference"], "low": d["low"],
                         "high": d["high"], "pixel difference": (pa - pb) if pa is not None and pb is not None
                         else float("nan"), "n_test": len(ra.labels), "word": verdict_word(d)})
    return pd.DataFrame(rows, columns=["data", "seed", "a", "b", "AUROC a", "AUROC b", "difference", "low", "high",
                                       "pixel difference", "n_test", "word"])


def drop_bootstrap(arrays: list, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """The paired percentile bootstrap interval of :func:`defectbook.analysis.trustmae.drop_difference`'s D.

    ``arrays``: one ``(data, positive ids, negative ids, K)`` per unit, ``K`` the four runs' comparison
    matrices ``[n_pos, n_neg]`` (1 where a defective image outscores a defect-free one, 1/2 on ties).
    Each replicate draws, per data set and class, a multinomial weight for every test image of that data
    set; every unit's four AUROCs are recomputed on those weights and D averaged over the units.
    Returns ``(low, high)``."""
    rng = np.random.default_rng(seed)
    weights: dict = {}      # (data, class) -> (id -> column, [B, n_ids] multinomial counts over the data set's images)
    for data in sorted({u[0] for u in arrays}):
        for c in (1, 2):
            pool = sorted({i for u in arrays if u[0] == data for i in u[c]}, key=str)
            w = rng.multinomial(len(pool), np.full(len(pool), 1 / len(pool)), size=n_boot).astype(float)
            weights[data, c] = ({i: j for j, i in enumerate(pool)}, w)
    boot = np.zeros(n_boot)
    with np.errstate(invalid="ignore", divide="ignore"):
        for data, pos, neg, K in arrays:
            (cp, Wp), (cn, Wn) = weights[data, 1], weights[data, 2]
            wp, wn = Wp[:, [cp[i] for i in pos]], Wn[:, [cn[i] for i in neg]]        # [B, n_pos], [B, n_neg]
            norm = wp.sum(1) * wn.sum(1)
            a0, a1, b0, b1 = (((wp @ k) * wn).sum(1) / norm for k in K)              # [B] AUROCs of the resamples
            boot += (a0 - a1) - (b0 - b1)
    boot = boot[np.isfinite(boot)] / len(arrays)     # a resample that left a unit without one class is dropped
    q = (1 - level) / 2
    lo, hi = float(np.quantile(boot, q)), float(np.quantile(boot, 1 - q))
    return lo, hi


def pair_effect(diffs: pd.DataFrame, a: str, b: str) -> dict:
    """The first row of :func:`method_differences` comparing ``a`` with ``b`` (the first data set and seed), as
    the ``effect`` of :func:`verdict`; ``{"n": 0}`` (no pair to compare) when there is none."""
    row = diffs[(diffs.a == a) & (diffs.b == b)] if len(diffs) else diffs
    return row.iloc[0].to_dict() if len(row) else {"n": 0}
