"""Every method of the book on one data set of the user's, and a recommendation (``defectbook compare``).

The configs are the benchmark chapter's (:func:`configs`: each method with its own chapter's settings, the
benchmark's split caps), run with a progress bar per method (:func:`run`). From the records:

* :func:`metric_table`: image AUROC (mean over seeds) with the first seed's bootstrap interval, pixel AUROC and
  PRO where the data have masks, best first;
* :func:`differences`: each method minus the best, on the same test images, with the paired bootstrap interval
  of :func:`defectbook.evaluation.stats.method_differences` and a verdict (:func:`verdict`, the one call that
  decides: ``worse``, ``better`` or ``no difference shown``);
* :func:`cost_table`: fit time, prediction images/s and peak memory per method, from the records;
* :func:`recommend`: the cheapest method not worse than the best by its interval;
* :func:`threshold`: the score threshold of a method at a chosen false-positive rate on the defect-free test
  images, with the share of defective test images it flags.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from .. import DefectbookError, settings
from ..components.features import FEATURES
from ..data.layout import UserData, user_data
from ..evaluation.metrics import auroc_interval
from ..evaluation.stats import direction_word, method_differences
from ..pipeline import run as experiment
from ..pipeline import spec
from ..pipeline.deploy import save_deployable
from ..pipeline.store import Record
from .benchmark import runs_on

__all__ = ["UserData", "user_data", "configs", "run", "metric_table", "differences", "verdict", "cost_table",
           "recommend", "threshold", "examples", "data_text", "recommendation_text", "save_model", "COSTS"]

#: what "cheapest" means: column of :func:`cost_table`, whether a smaller value is cheaper, and its words
COSTS = {"predict": ("predict (images/s)", False, "fastest prediction", "images/s"),
         "fit": ("fit (s)", True, "fastest fit", "s"),
         "memory": ("RSS added (MB)", True, "least memory added during fit and predict", "MB")}
#: the words of :func:`verdict` for "method minus the best"
WORDS = {"agrees": "better", "disagrees": "worse", "undecided": "no difference shown"}


def configs(profile: str, data: UserData, methods: Iterable[str] | None = None, seeds=None) -> list[dict]:
    """The experiment configs of ``methods`` on ``data``, one per method and seed (None: the profile's seeds),
    methods in the given order. ``methods`` None: every method of the book (the benchmark's ``compare`` list)
    on a folder of one's own; on one of the book's own data sets, those the profile runs there
    (:func:`~defectbook.analysis.benchmark.runs_on`: at ``cpu`` the trained methods only on their declared
    data), so the book's comparison pages are the benchmark chapter's own runs. Every method gets one split,
    so all score the same test images: the benchmark's caps for the data set, else the profile's
    ``real_max_train`` (test: 4x), else none (written out, so no method's own chapter caps it)."""
    chapter = spec.chapter("benchmark", profile, data_root=data.root, seeds=seeds)
    if not methods and data.dataset in chapter.section.get("real", chapter.P["real"]):
        methods = [m for m in chapter.compare if runs_on(chapter.grids, m, data.dataset, data.category)]
    methods = list(methods or chapter.compare)
    unknown = [m for m in methods if m not in spec.LABELS]
    if unknown or not methods:
        raise DefectbookError(f"unknown method {unknown[0] if unknown else '(none given)'!r}; known: "
                              f"{', '.join(chapter.compare)}")
    caps = chapter.section.get("datasets", {}).get(data.dataset, {}).get("split", {})
    cap = chapter.P.get("real_max_train")
    split = {"kind": "clean", "max_train": caps.get("max_train") or cap,
             "max_test": caps.get("max_test") or (4 * cap if cap else None)}
    return [chapter.config(m, data.dataset, data.category, seed=s, split=dict(split))
            for m in methods for s in chapter.seeds]


def run(configs: list[dict], store=None) -> list[Record]:
    """The records of ``configs``, one progress bar per method, with the feature cache off (each method's
    times include its own feature extraction). On a Dask cluster (``DEFECTBOOK_SCHEDULER``, ``--workers``)
    every config is submitted at once first; the bars then find the records."""
    by: dict[str, list[dict]] = {}
    for c in configs:
        by.setdefault(c["method"], []).append(c)
    with FEATURES.off():
        if settings.scheduler():
            experiment.run_many(configs, store, desc="every method")
        done = {m: experiment.run_many(cs, store, desc=spec.LABELS[m]) for m, cs in by.items()}
    out, seen = [], {m: 0 for m in by}
    for c in configs:
        out.append(done[c["method"]][seen[c["method"]]])
        seen[c["method"]] += 1
    return out


def _first_seed(records: list[Record]) -> list[Record]:
    first = min(r.config.get("seed", 0) for r in records)
    return [r for r in records if r.config.get("seed", 0) == first]


def metric_table(records: list[Record], n_boot: int = 1000, level: float = 0.95) -> pd.DataFrame:
    """One row per method (its display name), best image AUROC first: ``image AUROC`` (mean over seeds), the
    first seed's bootstrap interval (``low``, ``high``), ``pixel AUROC`` and ``PRO`` (mean over seeds; columns
    left out when no method has them), ``seeds``, and ``method`` (the registered name)."""
    rows = {}
    for r in records:
        m = r.config["method"]
        rows.setdefault(m, []).append(r)
    out = []
    for m, rs in rows.items():
        first = _first_seed(rs)[0]
        ci = auroc_interval(first.labels, first.scores, n_boot=n_boot, level=level)
        mean = lambda k: float(np.mean([r.metrics[k] for r in rs])) if all(r.metrics.get(k) is not None  # noqa: E731
                                                                          for r in rs) else float("nan")
        out.append({"model": spec.LABELS[m], "image AUROC": mean("image_auroc"), "low": ci["low"], "high": ci["high"],
                    "pixel AUROC": mean("pixel_auroc"), "PRO": mean("aupro"), "seeds": len(rs), "method": m})
    df = pd.DataFrame(out).set_index("model").sort_values("image AUROC", ascending=False, kind="stable")
    return df.drop(columns=[c for c in ("pixel AUROC", "PRO") if df[c].isna().all()]).rename_axis(index=None)


def verdict(effect: dict) -> str:
    """The verdict on "a method minus the best" (``difference``, ``low``, ``high``): the book's verdict rule
    (:func:`defectbook.evaluation.stats.direction_word`, by the interval alone) in this page's words,
    :data:`WORDS`. Every verdict of this page is made here."""
    return WORDS[direction_word(effect)]


def differences(records: list[Record], best: str, n_boot: int = 1000, level: float = 0.95) -> pd.DataFrame:
    """Each method minus ``best`` (a registered name) in image AUROC on the first seed's test images: the
    difference, its paired bootstrap interval (``low``, ``high``) and :func:`verdict`; one row per other
    method (display name), in the order of ``records``."""
    first = _first_seed(records)
    methods = list(dict.fromkeys(r.config["method"] for r in first))
    diffs = method_differences(first, [(m, best) for m in methods if m != best], n_boot=n_boot, level=level)
    if not len(diffs):
        return pd.DataFrame(columns=["difference", "low", "high", "verdict", "method"])
    diffs["verdict"] = [verdict(row) for row in diffs.to_dict("records")]
    diffs.index = [spec.LABELS[m] for m in diffs["a"]]
    return diffs.rename(columns={"a": "method"})[["difference", "low", "high", "verdict", "method"]]


def cost_table(records: list[Record]) -> pd.DataFrame:
    """One row per method (display name): ``fit (s)`` and ``predict (images/s)`` (mean over seeds), ``peak RSS
    (MB)`` (the largest; the process's resident memory during fit and predict, which includes what the process
    held before, e.g. earlier methods' runs in the same process) and ``RSS added (MB)`` (the largest rise above
    the resident memory at the start of the fit: the method's own), ``GPU peak (MB)`` where recorded, ``training
    images``, ``test images``, ``image size``, and ``features from cache`` (True: some backbone features of the
    record were served by the feature cache, so its times leave out their extraction)."""
    rows = []
    for r in records:
        t = r.config["transform"]
        rows.append({"model": spec.LABELS[r.config["method"]], "fit (s)": r.timings["fit_s"],
                     "predict (images/s)": r.timings["predict_images_per_s"],
                     "peak RSS (MB)": r.memory.get("peak_rss_mb"),
                     "RSS added (MB)": r.memory["peak_rss_mb"] - r.memory["start_rss_mb"]
                     if r.memory.get("start_rss_mb") is not None else None,
                     "GPU peak (MB)": r.memory.get("cuda_peak_mb"),
                     "training images": r.extras["split"]["n_train"], "test images": len(r.labels),
                     "image size": t.get("crop") or t["resize"],
                     "features from cache": r.extras.get("feature_cache_hits", 0) > 0, "method": r.config["method"]})
    df = pd.DataFrame(rows)
    agg = {c: ("max" if c in ("peak RSS (MB)", "RSS added (MB)", "GPU peak (MB)", "features from cache") else
               "first" if c in ("training images", "test images", "image size", "method") else "mean")
           for c in df.columns if c != "model"}
    df = df.groupby("model", sort=False).agg(agg)
    if df["GPU peak (MB)"].isna().all():
        df = df.drop(columns="GPU peak (MB)")
    return df.rename_axis(index=None)


def recommend(table: pd.DataFrame, diffs: pd.DataFrame, cost: pd.DataFrame, by: str = "predict") -> dict:
    """The cheapest method (by ``by``, a key of :data:`COSTS`: fastest prediction, fastest fit or least memory;
    ties: the higher AUROC) among the best (first row of ``table``) and the methods whose difference to it is
    not ``worse`` (:func:`verdict`). Returns ``{"model", "method", "best", "candidates", "by", "cost"}``."""
    if by not in COSTS:
        raise DefectbookError(f"unknown cost {by!r}; known: {', '.join(COSTS)}")
    column, ascending = COSTS[by][:2]
    best = table.index[0]
    ok = [best] + [m for m in diffs.index if diffs.loc[m, "verdict"] != "worse"]
    cand = cost.loc[ok].assign(auroc=table.loc[ok, "image AUROC"])
    cand = cand.sort_values([column, "auroc"], ascending=[ascending, False], kind="stable")
    pick = cand.index[0]
    return {"model": pick, "method": table.loc[pick, "method"], "best": best,
            "candidates": [m for m in table.index if m in ok], "by": by, "cost": float(cand.loc[pick, column])}


def threshold(records: list[Record], method: str, fpr: float = 0.05) -> dict:
    """The score threshold of ``method`` (registered name; its first seed's record) at which at most ``fpr`` of
    the defect-free test images score above it: ``{"threshold", "fpr_target", "fpr", "tpr", "n_normal",
    "n_defective"}`` (``fpr``/``tpr``: the shares of defect-free / defective test images above it). Chosen and
    measured on the same defect-free images: new images will show somewhat more false positives."""
    if not 0 <= fpr < 1:
        raise DefectbookError(f"the false-positive rate must be in [0, 1), got {fpr}")
    rs = [r for r in records if r.config["method"] == method]
    if not rs:
        raise DefectbookError(f"no record of {method}")
    r = _first_seed(rs)[0]
    scores, labels = np.asarray(r.scores, dtype=float), np.asarray(r.labels)
    normal = np.sort(scores[labels == 0])[::-1]
    if not len(normal):
        raise DefectbookError(f"{method}: no defect-free test image to set a threshold on")
    k = int(np.floor(fpr * len(normal) + 1e-9))          # defect-free images allowed above the threshold
    t = float(normal[min(k, len(normal) - 1)])
    return {"threshold": t, "fpr_target": float(fpr), "fpr": float((scores[labels == 0] > t).mean()),
            "tpr": float((scores[labels == 1] > t).mean()) if (labels == 1).any() else float("nan"),
            "n_normal": int(len(normal)), "n_defective": int((labels == 1).sum())}


def examples(records: list[Record], table: pd.DataFrame, n_methods: int = 3) -> tuple[list[dict], list[str], list]:
    """The stored example maps (:meth:`Record.maps`) of the ``n_methods`` best methods of ``table`` that give
    maps (first seed): ``(examples, method names, column titles)``, the titles saying each test image's
    defect type or "defect-free"."""
    first = {r.config["method"]: r for r in _first_seed(records)}
    out, names = [], []
    for model in table.index:
        r = first[table.loc[model, "method"]]
        ex = r.maps()
        if ex and len(out) < n_methods:
            out.append(ex)
            names.append(model)
    if not out:
        return [], [], []
    r = first[table.loc[names[0], "method"]]
    titles = ["defect-free" if r.labels[i] == 0 else f"defective: {r.defects[i]}" for i in out[0]["index"]]
    return out, names, titles


def data_text(data: UserData, records: list[Record]) -> str:
    """One line: the data set, what it holds, and the images the runs used (fewer where the profile caps them)."""
    r = _first_seed(records)[0]
    used = (r.extras["split"]["n_train"], r.labels.count(0), r.labels.count(1))
    found = (data.n_train, data.n_test_normal, data.n_test_defective)
    line = (f"**Data:** {data.describe()}")
    if used != found:
        line += (f"; the runs use {used[0]} training and {used[1] + used[2]} test images ({used[1]} defect-free, "
                 f"{used[2]} defective: seeded subsets, the profile's caps)")
    run, profile = {r.config["method"] for r in records}, r.config.get("profile")
    P = spec.load(profile) if profile else {}
    bench = P.get("benchmark", {})
    own = data.dataset in bench.get("real", P.get("real", []))
    left = [spec.LABELS[m] for m in bench.get("compare", []) if own and m not in run
            and not runs_on(bench["grids"], m, data.dataset, data.category)]
    if left:
        line += (f". Not run here: {', '.join(left)} (this profile trains them only on the data sets the benchmark "
                 f"chapter declares; name them with `methods` to run them)")
    return line + "."


def recommendation_text(rec: dict, thr: dict, table: pd.DataFrame, data: UserData) -> str:
    """The page's recommendation in one paragraph (Markdown)."""
    words, unit = COSTS[rec["by"]][2:]
    others = [m for m in rec["candidates"] if m != rec["model"]]
    why = (f"the best image AUROC ({table.loc[rec['best'], 'image AUROC']:.3f})" if rec["model"] == rec["best"] else
           f"not worse than the best, {rec['best']} ({table.loc[rec['best'], 'image AUROC']:.3f}), by the interval "
           f"of its paired difference, with image AUROC {table.loc[rec['model'], 'image AUROC']:.3f}")
    return (f"**Recommended for {data.dataset}{':' + data.category if data.category else ''}: {rec['model']}**, "
            f"{why}, and of the {len(rec['candidates'])} such method(s) the one with the {words} "
            f"({rec['cost']:.3g} {unit})" + (f"; the others: {', '.join(others)}" if others else "") + ". "
            f"Threshold at a false-positive rate of {thr['fpr_target']:.0%} on the {thr['n_normal']} defect-free "
            f"test images: score > {thr['threshold']:.4g} flags {thr['fpr']:.0%} of them and {thr['tpr']:.0%} of the "
            f"{thr['n_defective']} defective ones.")


def save_model(records: list[Record], rec: dict, thr: dict, folder) -> str:
    """Save the recommended method's model (its first seed's config), fitted again or loaded from the model
    store, with its transform and threshold, where ``defectbook predict`` reads it; returns the folder."""
    r = _first_seed([r for r in records if r.config["method"] == rec["method"]])[0]
    return str(save_deployable(r.config, folder, thr))
