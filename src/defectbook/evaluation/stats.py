"""Statistics of the book's comparisons: intervals of paired differences, bootstrap intervals of
AUROC differences between methods and of TrustMAE's drop difference, and the verdict word of an
interval. Presentation (tables, sentences) is :mod:`defectbook.book.report`'s.

The book's one verdict rule (:func:`image_bootstrap`, :func:`unit_bootstrap`, :func:`in_band`,
:func:`direction_word`, :func:`combine_words`; the claims come from :mod:`defectbook.analysis.claims`):

* the effect is the mean, over units (one data set and seed each), of a linear combination of the
  claim's metric (``a - b``; for a drop, ``(a_lo - a_hi) - (b_lo - b_hi)``);
* with per-image scores (image AUROC): a paired percentile bootstrap over the test images. Each
  replicate draws one multinomial weight per test image, within each class, per test set (units whose
  test sets are identical, e.g. the seeds of one data set, share the draw); every AUROC of every unit
  is recomputed on those weights and the effect averaged over the units;
* without them (pixel AUROC, PRO, quantities derived from maps): a percentile bootstrap over the units;
  it needs :data:`MIN_UNITS` units (five units all on one side: one-sided sign test p = 1/32);
* a unit whose compared values all sit in the ceiling or floor band (:data:`CEILING`, :data:`FLOOR`)
  is set aside; a comparison with no unit left is *not testable here*;
* *agrees* when the interval lies on the paper's side of zero, *disagrees* on the other side,
  *undecided* when it holds zero (or cannot be computed).
"""
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


#: The book's one vocabulary for a claim's direction (:func:`direction_word`, :func:`combine_words`).
VERDICTS = ("agrees", "disagrees", "undecided", "not testable")
#: Compared AUROC-like values all at or above this: a ceiling, where no difference can show.
CEILING = 0.98
#: Compared AUROC-like values all within this band around chance (0.5): a floor, nothing detected.
FLOOR = (0.45, 0.55)
#: The fewest units a bootstrap over units (no per-image scores) decides with.
MIN_UNITS = 5


def direction_word(effect: dict, paper_sign: int = 1) -> str:
    """``agrees``, ``disagrees`` or ``undecided``: where the interval of ``effect`` (``difference``,
    ``low``, ``high``) lies against the paper's sign."""
    d, lo, hi = (float(effect.get(k, float("nan"))) for k in ("difference", "low", "high"))
    if any(math.isnan(v) for v in (d, lo, hi)):
        return "undecided"
    if paper_sign * lo > 0 and paper_sign * hi > 0:
        return "agrees"
    if paper_sign * lo < 0 and paper_sign * hi < 0:
        return "disagrees"
    return "undecided"


def combine_words(words: Iterable[str]) -> str:
    """A claim's verdict from its comparisons' (one per competitor): *disagrees* if any disagrees,
    *agrees* if every testable one agrees, *not testable* if none is testable, else *undecided*."""
    words = list(words)
    testable = [w for w in words if w != "not testable"]
    if not words or not testable:
        return "not testable"
    if "disagrees" in testable:
        return "disagrees"
    return "agrees" if all(w == "agrees" for w in testable) else "undecided"


def in_band(values: Iterable[float]) -> str | None:
    """``"ceiling"`` when every value is at least :data:`CEILING`, ``"floor"`` when every value lies in
    :data:`FLOOR`, else None (NaN values ignored; None when there is none)."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if not len(x):
        return None
    if (x >= CEILING).all():
        return "ceiling"
    if ((x >= FLOOR[0]) & (x <= FLOOR[1])).all():
        return "floor"
    return None


def _interval(point: float, boot: np.ndarray, n: int, level: float, method: str) -> dict:
    boot = boot[np.isfinite(boot)]
    q = (1 - level) / 2
    lo, hi = (float(np.quantile(boot, q)), float(np.quantile(boot, 1 - q))) if len(boot) else (math.nan, math.nan)
    return {"difference": float(point), "low": lo, "high": hi, "n": n, "method": method}


def unit_bootstrap(differences: Iterable[float], n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Mean of per-unit ``differences`` with a percentile bootstrap interval over the units (resampled with
    replacement); no interval (NaN) below :data:`MIN_UNITS` units. ``method``: ``"units"``."""
    x = np.asarray([v for v in differences if v is not None and not math.isnan(v)], dtype=float)
    if not len(x):
        return {"difference": math.nan, "low": math.nan, "high": math.nan, "n": 0, "method": "units"}
    if len(x) < MIN_UNITS:
        return {"difference": float(x.mean()), "low": math.nan, "high": math.nan, "n": len(x), "method": "units"}
    rng = np.random.default_rng(seed)
    boot = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(1)
    return _interval(x.mean(), boot, len(x), level, "units")


def _comparisons(labels, scores) -> np.ndarray:
    """``K [n_pos, n_neg]``: 1 where a defective image outscores a defect-free one, 1/2 on ties."""
    y = np.asarray(labels) == 1
    s = np.asarray(scores, dtype=float)
    p, n = s[y][:, None], s[~y][None, :]
    return (p > n) + 0.5 * (p == n)


def image_bootstrap(units: list[dict], n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """The rule's paired bootstrap over test images (module docstring).

    ``units``: one dict per unit: ``data`` (its data set), ``labels`` and ``defects`` (the test set, per image),
    ``terms`` (``[(coefficient, scores)]``: the unit's effect is the sum of coefficient x AUROC of the scores)
    and optionally ``offset`` (a constant added, e.g. -0.5 against chance). Returns ``difference`` (mean
    effect over the units), ``low``, ``high``, ``n`` (units), ``method`` (``"images"``)."""
    if not units:
        return {"difference": math.nan, "low": math.nan, "high": math.nan, "n": 0, "method": "images"}
    rng = np.random.default_rng(seed)
    draws: dict = {}
    boot, point = np.zeros(n_boot), 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        for u in units:
            y = np.asarray(u["labels"]) == 1
            if y.all() or not y.any():
                raise DefectbookError(f"{u['data']}: a test set without both classes has no AUROC")
            test_set = (u["data"], tuple(u["labels"]), tuple(map(str, u.get("defects") or ())))
            if test_set not in draws:
                draws[test_set] = tuple(rng.multinomial(k, np.full(k, 1 / k), size=n_boot).astype(float)
                                        for k in (int(y.sum()), int((~y).sum())))
            wp, wn = draws[test_set]
            norm = wp.sum(1) * wn.sum(1)
            for coef, scores in u["terms"]:
                K = _comparisons(u["labels"], scores)
                point += coef * float(K.mean())
                boot += coef * ((wp @ K) * wn).sum(1) / norm
            point += u.get("offset", 0.0)
            boot += u.get("offset", 0.0)
    return _interval(point / len(units), boot / len(units), len(units), level, "images")


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
    (:func:`direction_word` with the paper's sign taken as a > b).
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
                         else float("nan"), "n_test": len(ra.labels), "word": direction_word(d)})
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
