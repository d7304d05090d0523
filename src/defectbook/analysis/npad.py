"""N-pad's analysis (and that of the PaDiM page, N-pad's baseline): the tables and verdict inputs the
chapter's pages compute from their records.

Every function takes records (:class:`~defectbook.pipeline.store.Record`) or the result frame of
:func:`defectbook.pipeline.run.frame` (one row per run) and returns a ``pandas.DataFrame``, a dict or
text. Method names in tables are the display names of :data:`defectbook.pipeline.spec.LABELS`.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from defectbook import DefectbookError
from defectbook.components.backbones import resolve_weight_file
from defectbook.config import data_label
from defectbook.evaluation.metrics import auroc_difference, auroc_interval, image_auroc, pixel_precision_recall
from defectbook.methods.npad import ABLATIONS, SCORE_VARIANTS
from defectbook.pipeline.run import frame
from defectbook.pipeline.spec import LABELS
from defectbook.pipeline.store import Record

METRICS = ["pixel_auroc", "image_auroc", "aupro"]

#: The paper's best setting of each Fig. 2 sweep (pixel AUROC, MVTec AD).
PAPER_BEST_SWEEP = {"train_radius": 3, "infer_radius": 2, "shift": 4, "d": 550}


# --- runs into one frame ---------------------------------------------------------------------------

def records_of(runs: Mapping) -> list[Record]:
    """The records of ``runs`` (any key -> list of records), in the order of the mapping."""
    return [r for recs in runs.values() for r in recs]


def labelled_frame(runs: Mapping, columns: str | Sequence[str]) -> pd.DataFrame:
    """One frame (:func:`~defectbook.pipeline.run.frame`) of ``runs`` (key -> list of records), each run's
    rows labelled with its key under ``columns`` (one name, or a tuple of names for tuple keys; a name
    the frame already has is overwritten)."""
    names = [columns] if isinstance(columns, str) else list(columns)
    parts = []
    for key, recs in runs.items():
        values = [key] if isinstance(columns, str) else list(key)
        parts.append(frame(recs).assign(**dict(zip(names, values))))
    return pd.concat(parts)


def mean_metrics(df: pd.DataFrame, by: str, metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """The mean of ``metrics`` per value of ``df[by]``, rows in order of first appearance."""
    return df.groupby(by, sort=False)[list(metrics)].mean()


def metric_pivot(df: pd.DataFrame, index: str, columns: str) -> pd.DataFrame:
    """Mean image and pixel AUROC, rows ``index``, one column per (metric, value of ``columns``) named
    ``"image · <value>"`` / ``"pixel · <value>"`` (image columns first)."""
    table = df.pivot_table(index=index, columns=columns, values=["image_auroc", "pixel_auroc"], aggfunc="mean")
    table.columns = [f"{metric.split('_')[0]} · {c}" for metric, c in table.columns]
    return table


def paper_difference(paper: pd.DataFrame, a: str, b: str, column: str = "image_auroc") -> float:
    """The paper's ``a`` minus ``b`` (method names, e.g. ``"npad"``) in ``column`` of ``paper`` (indexed by
    display names); NaN where the paper has no row for one of them."""
    get = lambda m: paper.loc[LABELS[m], column] if LABELS[m] in paper.index else float("nan")  # noqa: E731
    return float(get(a) - get(b))


# --- Table 1 and Table 2: MVTec AD per category ----------------------------------------------------

#: The methods of Tables 1 and 2, in the order of their columns.
TABLE_METHODS = ("padim", "patchcore", "spade", "npad")

def auroc_tables(records: Sequence[Record], paper: pd.DataFrame, synthetic: bool) -> dict[str, pd.DataFrame]:
    """Table 1: mean image and pixel AUROC per data set (rows, then their ``mean``) and method (columns,
    display names in the order of :data:`TABLE_METHODS`, each followed by the paper's column on MVTec AD).

    ``paper``: the transcribed table (``category``, ``method``, ``image_auroc``, ``pixel_auroc``; the
    paper's average as category ``average``); ``synthetic``: no paper column (our data is not MVTec AD).
    Returns ``{"image_auroc": DataFrame, "pixel_auroc": DataFrame}``."""
    df = frame(records)
    df["data"] = [data_label(r.config) for r in records]
    table = df.pivot_table(index="data", columns="method", values=["image_auroc", "pixel_auroc"], aggfunc="mean")
    table.loc["mean"] = table.mean()
    table = table.rename(columns=LABELS)
    paper = paper.set_index(["category", "method"])
    names = [LABELS[m] for m in TABLE_METHODS]
    if not synthetic:
        for metric in ("image_auroc", "pixel_auroc"):
            ref = paper[metric].unstack("method").rename(index=lambda c: "mean" if c == "average" else f"mvtec:{c}")
            for m in names:
                if m in ref:
                    table[(metric, f"{m} (paper)")] = ref[m].reindex(table.index).values
    order = [c for m in names for c in (m, f"{m} (paper)")]
    return {metric: table[metric][[c for c in order if c in table[metric].columns]].rename_axis(columns=None)
            for metric in ("image_auroc", "pixel_auroc")}


def paper_average(paper: pd.DataFrame) -> pd.DataFrame:
    """The paper's average row of each method (``category == "average"``), indexed by method."""
    return paper.set_index(["category", "method"]).xs("average", level="category")


def paper_average_table(paper: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 1 average (image and pixel AUROC) of the methods of :data:`TABLE_METHODS` it
    lists, one row per method."""
    avg = paper_average(paper)
    return avg.loc[[LABELS[m] for m in TABLE_METHODS if LABELS[m] in avg.index],
                   ["image_auroc", "pixel_auroc"]].rename_axis("method")


def headline(df: pd.DataFrame, methods: Sequence[str]) -> str:
    """Table 1's first summary line: the data, the seeds and each method's mean image AUROC (``df`` with
    the ``data`` column of :func:`~defectbook.config.data_label`)."""
    return (f"N-pad, PaDiM, PatchCore and SPADE on data {', '.join(sorted(df['data'].unique()))}, "
            f"seeds {', '.join(map(str, sorted(df['seed'].unique())))}. Mean image AUROC: "
            + ", ".join(f"{LABELS[m]} {df[df.method == m].image_auroc.mean():.3f}" for m in methods) + ".")


def pro_table(df: pd.DataFrame, paper: pd.DataFrame, synthetic: bool) -> pd.DataFrame:
    """Table 2: mean PRO per data set (rows, then their ``mean``) and method (display names); on MVTec AD
    (``synthetic`` false) each method's paper column beside it. ``paper``: the pivot category x method
    of the transcribed PRO values (the average as ``average``). ``df`` gets the ``data`` column
    ``dataset:category``."""
    df["data"] = df["dataset"] + ":" + df["category"].fillna("")  # synthetic:weave is never MVTec's weave
    table = df.pivot_table(index="data", columns="method", values="aupro", aggfunc="mean").rename(columns=LABELS)
    table.loc["mean"] = table.mean()
    if not synthetic:
        ref = paper.rename(index=lambda c: "mean" if c == "average" else f"mvtec:{c}")
        for m in (LABELS[m] for m in TABLE_METHODS):
            if m in ref:
                table[f"{m} (paper)"] = ref[m].reindex(table.index).values
    return table.rename_axis(columns=None)


def paper_pro_average(paper: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 2 (``paper``: the pivot of :func:`pro_table`): its ``average`` row, the columns
    of :data:`TABLE_METHODS` it has."""
    return paper.loc[["average"], [LABELS[m] for m in TABLE_METHODS if LABELS[m] in paper.columns]].rename_axis(
        index=None, columns=None)


# --- Table 3, 5 and Appendix B: N-pad's switches ------------------------------------------------------

def ablation_table(df: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Table 3: mean metrics per ``experiment`` with the paper's pixel AUROC and modules (``paper``
    indexed by experiment) and our error ``1 - pixel AUROC``."""
    table = mean_metrics(df, "experiment")
    table["pixel_auroc (paper)"] = paper["pixel_auroc"]
    table["modules"] = paper["modules"]
    table["error (ours)"] = 1 - table["pixel_auroc"]
    return table


def weighting_table(df: pd.DataFrame, records: Iterable[Record], paper: pd.DataFrame) -> pd.DataFrame:
    """Table 5: mean metrics per ``weighting`` with the paper's pixel AUROC (``paper`` indexed by
    weighting) and the mean weight share of the centre neighbour the runs report."""
    records = list(records)
    table = mean_metrics(df, "weighting")
    table["pixel_auroc (paper)"] = paper["pixel_auroc"]
    share = {w: [r.extras.get("centre_weight_share") for r in records if r.config["params"]["weighting"] == w]
             for w in table.index}
    table["mean weight share of the centre"] = [float(np.mean(share[w])) for w in table.index]
    return table


def by_ratio(paper: pd.DataFrame) -> pd.Series:
    """Appendix B's image AUROC of the paper by k-means ratio, the ratios rounded to 4 digits."""
    s = paper.set_index("kmeans_ratio")["image_auroc"]
    s.index = s.index.round(4)
    return s


def kmeans_table(df: pd.DataFrame, records: Iterable[Record], paper: pd.Series) -> pd.DataFrame:
    """Appendix B: mean image and pixel AUROC per ``kmeans_ratio`` (largest first), the paper's image
    AUROC (:func:`by_ratio`; NaN where it has none) and the mean number of centroids kept."""
    records = list(records)
    table = df.groupby("kmeans_ratio")[["image_auroc", "pixel_auroc"]].mean().sort_index(ascending=False)
    table["image_auroc (paper)"] = [paper.get(round(r, 4), float("nan")) for r in table.index]
    table["centroids"] = [int(pd.Series([x.extras.get("n_centroids") for x in records
                                         if x.config["params"]["kmeans_ratio"] == r]).mean()) for r in table.index]
    return table


def size_label(transform: dict) -> str:
    """Table 4's name of an image size: ``"112 crop of 128"`` or ``"128 resize"``."""
    t = transform
    return f"{t['crop']} crop of {t['resize']}" if t.get("crop") else f"{t['resize']} resize"


# --- Fig. 2: sweeps and backbones -----------------------------------------------------------------

def sweep_table(df: pd.DataFrame) -> pd.DataFrame:
    """Fig. 2 a-d: mean pixel and image AUROC per swept ``param`` and ``value``, rounded to 4 digits."""
    return df.groupby(["param", "value"])[["pixel_auroc", "image_auroc"]].mean().round(4)


def best_settings(df: pd.DataFrame, paper_best: Mapping = PAPER_BEST_SWEEP) -> pd.DataFrame:
    """Per swept ``param``: the value with our best mean pixel AUROC beside the paper's best."""
    best = df.groupby(["param", "value"])["pixel_auroc"].mean().groupby("param").idxmax().map(lambda t: t[1])
    return pd.DataFrame({"our best (pixel AUROC)": best, "paper's best": pd.Series(dict(paper_best))})


def radius_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The training-radius sweep's rows with a ``radius`` column ``"radius <value>"`` (for a verdict
    between two radii)."""
    return df[df.param == "train_radius"].assign(radius=lambda x: "radius " + x["value"].astype(str))


def usable_backbones(backbones: Iterable[str], dry_run: bool) -> tuple[list[str], list[str]]:
    """The backbones whose weight files are found (EfficientNet-Lite0 and, in a dry run with random
    weights, every one always are) and one message per backbone skipped. Returns ``(usable, messages)``."""
    usable, skipped = [], []
    for b in backbones:
        try:
            if b != "efficientnet_lite0" and not dry_run:
                resolve_weight_file(b)
            usable.append(b)
        except DefectbookError as e:
            skipped.append(f"skipped {b}: {e}")
    return usable, skipped


# --- Appendix A: MTD and ELPV ------------------------------------------------------------------------

#: The method pairs of Appendix A, in the paper's ordering N-pad > PatchCore > PaDiM (a minus b).
ORDER_PAIRS = [("npad", "padim"), ("npad", "patchcore"), ("patchcore", "padim")]


def mtd_table(records: Iterable[Record], paper: pd.DataFrame) -> pd.DataFrame:
    """Appendix A on MTD: our mean image AUROC, pixel AUROC and PRO per method (display names) joined
    with the paper's row of each method (``paper`` indexed by display name, columns suffixed
    ``" (paper)"``)."""
    ours = frame(records).groupby("method")[["image_auroc", "pixel_auroc", "aupro"]].mean().rename(index=LABELS)
    return ours.join(paper.add_suffix(" (paper)"), how="outer")


def split_sentence(records: Sequence[Record]) -> str:
    """The MTD split of the first record in words (test, defective and training images)."""
    split = records[0].extras.get("split", {})
    return (f"Test images: {split.get('n_test')} ({split.get('n_test_defective')} defective), training images: "
            f"{split.get('n_train')}. Paper: WRN-50, 224 px, 80 % of the defect-free images for training.")


def paper_pair_differences(diffs: pd.DataFrame, paper: pd.DataFrame) -> dict[str, list[float]]:
    """The paper's ``a - b`` for each row of :func:`~defectbook.evaluation.stats.method_differences`
    (NaN where the paper lacks a method): ``{"paper": image AUROC, "pixel, paper": pixel AUROC}``."""
    return {name: [paper_difference(paper, a, b, column) for a, b in zip(diffs.a, diffs.b)]
            for name, column in (("paper", "image_auroc"), ("pixel, paper", "pixel_auroc"))}


def score_variant_table(records: Iterable[Record], n_boot: int = 2000) -> pd.DataFrame:
    """N-pad's image-score readings on one run: per N-pad record with score variants, the image AUROC
    of the configured score and of each reading of :data:`~defectbook.methods.npad.SCORE_VARIANTS`,
    each (where PaDiM's first record has the same test images) with its paired bootstrap difference from
    PaDiM (``minus PaDiM``, ``95 % low``, ``95 % high``); then PaDiM's rows. Empty without N-pad score
    variants."""
    records = list(records)
    variant_recs = [r for r in records if r.config["method"] == "npad" and "score_variants" in r.extras]
    padim_recs = [r for r in records if r.config["method"] == "padim"]
    if not variant_recs:
        return pd.DataFrame()
    rows = []
    for r in variant_recs:
        readings = {"configured: mean of sqrt(top-k M x centroid distance)": r.scores,
                    **{text: r.extras["score_variants"][name] for name, text in SCORE_VARIANTS.items()}}
        for text, scores in readings.items():
            row = {"method": "N-pad", "image score": text, "image AUROC": image_auroc(r.labels, scores)}
            if padim_recs and padim_recs[0].labels == r.labels:   # the same test images: a paired difference
                d = auroc_difference(r.labels, scores, padim_recs[0].scores, n_boot=n_boot)
                row.update({"minus PaDiM": d["difference"], "95 % low": d["low"], "95 % high": d["high"]})
            rows.append(row)
    rows += [{"method": "PaDiM", "image score": "maximum of the final anomaly map",
              "image AUROC": r.metrics["image_auroc"]} for r in padim_recs]
    return pd.DataFrame(rows)


def mtd_ablation_sets(ablation: Iterable[str]) -> dict[str, dict]:
    """The N-pad switch sets of the MTD ablation: the Table 3 sets named in ``ablation``, Exper1 with
    training radius 0, and the full N-pad (no switch)."""
    sets = {name: ABLATIONS[name] for name in ablation}
    sets["Exper1, train radius 0"] = {**ABLATIONS["Exper1"], "train_radius": 0}
    sets["N-pad"] = {}
    return sets


def mtd_ablation_table(runs: Mapping[str, Sequence[Record]], records: Iterable[Record]) -> pd.DataFrame:
    """One row per run of ``runs`` (set name -> N-pad records with score variants): its image AUROC,
    the image AUROC of PaDiM's rule (map maximum) on the same run and its pixel AUROC; then one row per
    PaDiM record of ``records``."""
    rows = [{"experiment": name, "image AUROC": r.metrics["image_auroc"],
             "image AUROC, map maximum": image_auroc(r.labels, r.extras["score_variants"]["map_max"]),
             "pixel AUROC": r.metrics.get("pixel_auroc")} for name, recs in runs.items() for r in recs]
    rows += [{"experiment": "PaDiM", "image AUROC": r.metrics["image_auroc"],
              "image AUROC, map maximum": r.metrics["image_auroc"], "pixel AUROC": r.metrics.get("pixel_auroc")}
             for r in records if r.config["method"] == "padim"]
    return pd.DataFrame(rows)


def mtd_split(n: int | None) -> dict:
    """The clean MTD split with ``n`` training images (a seeded subset; None: DifferNet's whole list)."""
    return {"kind": "clean", "max_train": n} if n else {"kind": "clean"}


def training_sizes(sizes: Iterable[int]) -> list:
    """The training-set sizes of the curve, smallest first, then ``None`` (the whole list)."""
    return sorted(set(sizes), key=lambda n: n or 10 ** 9) + [None]


def _interval_text(d: dict) -> str:
    return f"{d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"


#: The columns of :func:`training_size_curve`, and those a page shows.
CURVE_COLUMNS = ["training images", "seed", "PaDiM", "PaDiM low", "PaDiM high", "PaDiM − whole list",
                 "PatchCore", "PatchCore low", "PatchCore high", "PatchCore − whole list",
                 "PatchCore − PaDiM", "95 % low", "95 % high"]
CURVE_VIEW = ["training images", "seed", "PaDiM", "PatchCore", "PatchCore − PaDiM", "95 % low", "95 % high",
              "PaDiM − whole list", "PatchCore − whole list"]


def training_size_curve(runs: Mapping[tuple, Sequence[Record]], sizes: Sequence, n_boot: int = 2000) -> pd.DataFrame:
    """PatchCore and PaDiM against the number of training images. ``runs[(method, n)]``: the records of
    ``"padim"`` / ``"patchcore"`` trained on ``n`` images (``None``: the whole list; one record per seed,
    same seed order). One row per size and seed: each method's image AUROC with its bootstrap interval,
    its paired difference from its own whole-list run (text ``"+d [low, high]"``, ``"—"`` for the whole
    list) and PatchCore minus PaDiM with its paired interval (:data:`CURVE_COLUMNS`). Raises
    :class:`DefectbookError` when the two methods of a pair were scored on different test images."""
    rows = []
    for n in sizes:
        for seed_i, (pc, pd_) in enumerate(zip(runs["patchcore", n], runs["padim", n])):
            if pc.labels != pd_.labels:
                raise DefectbookError("PatchCore and PaDiM were scored on different test images")
            row = {"training images": pc.extras.get("split", {}).get("n_train"), "seed": pc.config["seed"]}
            for m, r in (("padim", pd_), ("patchcore", pc)):
                name = LABELS[m]
                ci = auroc_interval(r.labels, r.scores, n_boot=n_boot)
                row.update({name: ci["auroc"], f"{name} low": ci["low"], f"{name} high": ci["high"]})
                if n is not None:
                    full = runs[m, None][seed_i]
                    row[f"{name} − whole list"] = _interval_text(auroc_difference(r.labels, r.scores, full.scores,
                                                                                  n_boot=n_boot))
                else:
                    row[f"{name} − whole list"] = "—"
            d = auroc_difference(pc.labels, pc.scores, pd_.scores, n_boot=n_boot)
            row.update({"PatchCore − PaDiM": d["difference"], "95 % low": d["low"], "95 % high": d["high"]})
            rows.append(row)
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def control_table(runs: Mapping[str, tuple], n_boot: int = 2000) -> pd.DataFrame:
    """The PatchCore controls. ``runs[name] = (change, patchcore records, padim records)``; the first
    entry is the reference (no change). One row per run: the memory bank kept, image and pixel AUROC and
    the paired differences (text ``"+d [low, high]"``) from the reference run of the same seed
    (``"—"`` for the reference) and from PaDiM with the same training images and image size."""
    ref = next(iter(runs.values()))[1]
    rows = []
    for name, (change, recs, pads) in runs.items():
        for r, r0, p in zip(recs, ref, pads):
            d0 = auroc_difference(r.labels, r.scores, r0.scores, n_boot=n_boot)
            dp = auroc_difference(r.labels, r.scores, p.scores, n_boot=n_boot)
            rows.append({"PatchCore": name, "training images": r.extras.get("split", {}).get("n_train"),
                         "seed": r.config["seed"], "memory bank": r.extras.get("memory_size"),
                         "image AUROC": r.metrics["image_auroc"],
                         "− reference": _interval_text(d0) if change else "—", "− PaDiM": _interval_text(dp),
                         "pixel AUROC": r.metrics.get("pixel_auroc")})
    return pd.DataFrame(rows)


def smallest_gap_sentence(curve: pd.DataFrame) -> str:
    """The PatchCore-PaDiM gap of :func:`training_size_curve` on its smallest training set, as a sentence
    (with its interval); empty when that is the whole list or there are no rows."""
    whole = curve[curve["training images"] == curve["training images"].max()]
    smallest = curve[curve["training images"] == curve["training images"].min()]
    if not len(smallest) or not len(whole) or smallest["training images"].iloc[0] == whole["training images"].iloc[0]:
        return ""
    return (f" With {int(smallest['training images'].iloc[0])} training images PatchCore minus PaDiM is "
            f"{smallest['PatchCore − PaDiM'].iloc[0]:+.3f} [{smallest['95 % low'].iloc[0]:+.3f}, "
            f"{smallest['95 % high'].iloc[0]:+.3f}].")


def auroc_interval_table(records: Iterable[Record], n_boot: int = 2000) -> pd.DataFrame:
    """One row per record (ELPV): data (``"ELPV <category>"``), seed, method (display name), image AUROC
    with its bootstrap interval over the test images, and the numbers of training, test and defective
    test cells."""
    rows = []
    for r in records:
        ci = auroc_interval(r.labels, r.scores, n_boot=n_boot)
        split = r.extras.get("split", {})
        rows.append({"data": f"ELPV {r.config['category']}", "seed": r.config["seed"],
                     "method": LABELS[r.config["method"]], "image AUROC": ci["auroc"], "95 % low": ci["low"],
                     "95 % high": ci["high"], "training cells": split.get("n_train"), "test cells": len(r.labels),
                     "defective test cells": int(sum(r.labels))})
    return pd.DataFrame(rows)


# --- maps ------------------------------------------------------------------------------------------------

def precision_recall_table(records: Iterable[Record], thresholds: Sequence[float] = tuple(np.linspace(0.1, 0.9, 9))
                           ) -> pd.DataFrame:
    """Per record with saved maps and a defect in its saved masks: the per-pixel precision, recall and
    flagged share (:func:`~defectbook.evaluation.metrics.pixel_precision_recall`, pooled over the saved
    examples) of each map scaled to [0, 1] (its own minimum and maximum) at each of ``thresholds``.
    Columns: method (display name), data, threshold (2 digits), precision, recall, flagged."""
    rows = []
    for r in records:
        m = r.maps()
        if "masks" not in m or not m["masks"].any():
            continue
        maps = m["maps"].astype("float32")
        scaled = (maps - maps.min()) / max(float(maps.max() - maps.min()), 1e-12)
        for t in thresholds:
            rows.append({"method": LABELS.get(r.config["method"]), "data": data_label(r.config),
                         "threshold": round(float(t), 2), **pixel_precision_recall(m["masks"], scaled, t)})
    return pd.DataFrame(rows)


def at_threshold(pr: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The rows of :func:`precision_recall_table` at ``threshold``, indexed by method and data."""
    return pr[pr["threshold"] == round(float(threshold), 2)].set_index(["method", "data"])[
        ["precision", "recall", "flagged"]]


# --- the PaDiM page ----------------------------------------------------------------------------------------

PADIM_COLUMNS = ["image_auroc", "pixel_auroc", "aupro", "fit_s", "predict_images_per_s", "peak_rss_mb"]


def per_category_table(df: pd.DataFrame, cols: Sequence[str] = PADIM_COLUMNS) -> pd.DataFrame:
    """The mean of ``cols`` per dataset and category (one row each), then the mean over the synthetic
    categories (category ``mean``) when there are any."""
    cols = list(cols)
    table = df.groupby(["dataset", "category"], dropna=False)[cols].mean().reset_index()
    synth = table[table.dataset == "synthetic"]
    if len(synth):
        mean_row = synth[cols].mean().to_frame().T.assign(dataset="synthetic", category="mean")
        table = pd.concat([table, mean_row], ignore_index=True)
    return table


def beside_paper(df: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Our mean image AUROC, pixel AUROC and PRO on MTD (PaDiM's page) beside the paper's PaDiM row
    (``paper``: the transcribed Appendix A table) and their difference ``Δ``. Empty without MTD runs."""
    mtd = df[df.dataset == "mtd"]
    if not len(mtd):
        return pd.DataFrame()
    ours = mtd[["image_auroc", "pixel_auroc", "aupro"]].mean()
    ref = paper.set_index("method").loc["PaDiM"]
    cmp = pd.DataFrame({"ours": ours, "paper (N-pad App. A, PaDiM)": ref.reindex(ours.index)})
    cmp["Δ"] = cmp.iloc[:, 0] - cmp.iloc[:, 1]
    return cmp
