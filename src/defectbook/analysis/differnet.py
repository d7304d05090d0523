"""DifferNet's chapter: what its pages (and ``benchmarks/differnet_mtd_cost.py``) compute from records.

Configs of the few-shot, localization, Table 1 and Table 3 runs, the tables beside the paper, the
MTD intervals, snapshot AUROCs and the AUROC-against-cost rows, and the comparisons each page's
verdict judges (keyword arguments of :func:`defectbook.book.report.claim_verdict`). Paper values are
passed in (they are read by :mod:`defectbook.book.paper_values`).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ..evaluation.metrics import auroc_interval
from ..pipeline import run as experiment
from ..pipeline.spec import LABELS, Chapter
from ..pipeline.store import Record

#: The methods of DifferNet's Table 2 on MTD, in the page's order.
MTD_METHODS = ("differnet", "ocsvm", "knn")


# --- Fig. 7: training-set size ---------------------------------------------------------------------

def fewshot_configs(chapter: Chapter, categories=None, shots=None, subsets=None) -> list[dict]:
    """Fig. 7's configs: DifferNet on ``subsets`` random training subsets (seeds ``0..subsets-1``) of
    each size in ``shots`` (None: the chapter's grids ``shots``, ``subsets``, ``fewshot_categories``)."""
    grids = chapter.grids
    cats = categories if categories is not None else grids["fewshot_categories"]
    return [c for n in (shots or grids["shots"]) for c in
            chapter.configs("differnet", categories=cats, real=grids["fewshot_real"],
                            seeds=range(subsets or grids["subsets"]),
                            split={"kind": "few_shot", "n": n}, save_maps=0, snapshots=0)]


def fewshot_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean image AUROC per data set (rows) and training-set size (columns) of a result frame
    (:func:`defectbook.pipeline.run.frame`: columns ``data``, ``shots``, ``image_auroc``)."""
    return df.pivot_table(index="data", columns="shots", values="image_auroc", aggfunc="mean")


def fewshot_claim(df: pd.DataFrame) -> dict:
    """Fig. 7's verdict (``claim_verdict`` keyword arguments): the largest training set against the
    smallest, image AUROC, paired by data set and subset."""
    return dict(frame=df)


# --- Fig. 8: gradient maps -------------------------------------------------------------------------

def localization_configs(chapter: Chapter, categories=None, backbones=None) -> tuple[list[dict], list[str]]:
    """Fig. 8's configs, one set per backbone (None: the chapter's ``localize_backbones``), and the
    backbone name of each config. AlexNet keeps only the feature scales that give its pool5 inputs of
    at least 64 px."""
    grids = chapter.grids
    cats = categories if categories is not None else grids["localize_categories"]
    configs, label_of = [], []
    for bb in (backbones or list(grids["localize_backbones"])):
        extra = dict(grids["localize_backbones"].get(bb) or {"backbone": bb,
                                                             **({"layer": "pool5"} if bb == "alexnet" else {})})
        if extra["backbone"] == "alexnet":   # AlexNet's pool5 needs inputs of at least 64 px
            size = chapter.section["transform"].get("crop") or chapter.section["transform"]["resize"]
            extra["scales"] = [s for s in chapter.params("differnet")["scales"] if s * size >= 64] or [1.0]
        for c in chapter.configs("differnet", categories=cats, save_maps=6, **grids["localize"], **extra, snapshots=0):
            configs.append(c)
            label_of.append(bb)
    return configs, label_of


#: The metrics of Fig. 8's tables.
LOCALIZATION_METRICS = ["image_auroc", "pixel_auroc", "aupro"]


def localization_tables(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean image AUROC, pixel AUROC and AUPRO of a result frame with a ``backbone`` column: per
    backbone, data set and category, and per backbone."""
    cols = LOCALIZATION_METRICS
    return df.groupby(["backbone", "dataset", "category"])[cols].mean(), df.groupby("backbone")[cols].mean()


def localization_claim(df: pd.DataFrame, backbone: str) -> dict:
    """Fig. 8's verdict (``claim_verdict`` keyword arguments): pixel AUROC of ``backbone``'s maps against chance."""
    return dict(frame=df[df["backbone"] == backbone])


# --- Table 1 -------------------------------------------------------------------------------------

def table1_columns(shots: int) -> dict[str, tuple[str, dict]]:
    """Table 1's columns: name -> (method, split); the last one DifferNet on ``shots`` training images."""
    return {"OCSVM": ("ocsvm", {"kind": "clean"}), "1-NN": ("knn", {"kind": "clean"}),
            "DifferNet": ("differnet", {"kind": "clean"}),
            f"DifferNet ({shots} shots)": ("differnet", {"kind": "few_shot", "n": shots})}


def table1_configs(chapter: Chapter, columns: dict, categories=None) -> tuple[list[dict], list[str]]:
    """The configs of Table 1's ``columns`` (:func:`table1_columns`) and the column of each."""
    configs, column_of = [], []
    for col, (method, split) in columns.items():
        for c in chapter.configs(method, categories=categories, split=split, save_maps=0):
            configs.append(c)
            column_of.append(col)
    return configs, column_of


def table1_table(df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """Mean image AUROC per (dataset, category) and Table 1 column (a result frame with a ``column``
    column), in the order of ``columns``, with a ``mean`` row per data set."""
    table = df.pivot_table(index=["dataset", "category"], columns="column", values="image_auroc", aggfunc="mean")
    table = table[[c for c in columns if c in table.columns]]
    for ds in table.index.get_level_values(0).unique():
        part = table.loc[[ds]]
        table.loc[(ds, "mean"), :] = part.mean()
    return table


#: The paper-values file's columns of Table 1 under the page's column names.
TABLE1_PAPER_COLUMNS = {"ocsvm": "OCSVM", "knn": "1-NN", "differnet": "DifferNet",
                        "differnet_16shots": "DifferNet (16 shots)"}


def table1_beside_paper(table: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """One row per (data, column) of :func:`table1_table` with ``ours``, ``paper`` and ``Δ``.

    ``paper``: the paper's Table 1 indexed by category (``average`` row), columns as
    :data:`TABLE1_PAPER_COLUMNS`. A paper value is given only for real MVTec categories and the ``mean``
    rows (beside the paper's average); ``Δ`` only for MVTec rows, never synthetic against MVTec."""
    paper = paper.rename(columns=TABLE1_PAPER_COLUMNS)
    rows = []
    for (ds, cat), r in table.iterrows():
        for col in table.columns:
            pcol = "DifferNet (16 shots)" if "shots" in col else col
            ref = paper.loc["average" if cat == "mean" else cat, pcol] if (ds == "mvtec" or cat == "mean") and \
                (cat in paper.index or cat == "mean") else None
            rows.append({"data": f"{ds}:{cat}", "column": col, "ours": r[col], "paper": ref})
    cmp = pd.DataFrame(rows)
    cmp["Δ"] = (cmp["ours"] - cmp["paper"].astype(float)).where(cmp.data.str.startswith("mvtec:"))
    return cmp


def table1_means_text(df: pd.DataFrame, columns: Iterable[str]) -> str:
    """``Mean image AUROC over <data> (seeds ...): OCSVM 0.700, ...`` for the Table 1 columns that ran."""
    return (
        f"Mean image AUROC over {', '.join(sorted(df.data.str.rstrip(':').unique()))} "
        f"(seeds {', '.join(map(str, sorted(df.seed.unique())))}): "
        + ", ".join(f"{c} {df[df.column == c].image_auroc.mean():.3f}" for c in columns if (df.column == c).any())
        + "."
    )


def table1_claim(df: pd.DataFrame, paper: pd.DataFrame) -> dict:
    """Table 1's verdict (``claim_verdict`` keyword arguments): DifferNet above 1-NN, paper effect from
    the ``average`` row of the paper's Table 1 (file columns ``differnet``, ``knn``)."""
    return dict(frame=df, paper_effect=float(paper.loc["average", "differnet"] - paper.loc["average", "knn"]))


def headline(df: pd.DataFrame, paper: pd.DataFrame) -> dict:
    """The book intro's headline numbers (glue name -> value): DifferNet's (column ``DifferNet``) mean
    image AUROC, the paper's Table 1 average (file column ``differnet``) and the data DifferNet ran on."""
    main = df[df.column == "DifferNet"]
    return {"headline_ours": main.image_auroc.mean(), "headline_paper": float(paper.loc["average", "differnet"]),
            "headline_data": ", ".join(sorted(main.data.str.rstrip(":").unique()))}


# --- Table 3 -------------------------------------------------------------------------------------

def ablation_variants(scales: list, test_transforms) -> dict[str, dict]:
    """Table 3's configurations A-G: multi-scale ``scales`` or the full size only, training transforms
    on or off, and the test transforms (``test_transforms``: the counts of E, F and G)."""
    single = [1.0]
    e, f, g = test_transforms
    return {"A": {"scales": single, "train_transforms": False, "test_transforms": 1},
            "B": {"scales": single, "train_transforms": True, "test_transforms": g},
            "C": {"scales": scales, "train_transforms": False, "test_transforms": 1},
            "D": {"scales": scales, "train_transforms": True, "test_transforms": 1},
            "E": {"scales": scales, "train_transforms": True, "test_transforms": e},
            "F": {"scales": scales, "train_transforms": True, "test_transforms": f},
            "G": {"scales": scales, "train_transforms": True, "test_transforms": g}}


def ablation_configs(chapter: Chapter, variants: dict, categories=None) -> tuple[list[dict], list[str]]:
    """The configs of Table 3's ``variants`` on the chapter's ablation categories (or ``categories``)
    and the variant of each."""
    cats = categories if categories is not None else chapter.grids["ablation_categories"]
    configs, variant_of = [], []
    for name, v in variants.items():
        for c in chapter.configs("differnet", categories=cats, save_maps=0, **v, snapshots=0):
            configs.append(c)
            variant_of.append(name)
    return configs, variant_of


def ablation_table(per_category: pd.DataFrame, variants: dict, paper: pd.DataFrame) -> pd.DataFrame:
    """Table 3 beside the paper, one row per variant: its switches, our mean over the categories of
    ``per_category`` (variants as columns) and the paper's ``image_auroc`` (percent) as a fraction."""
    names = list(variants)
    return pd.DataFrame({
        "multi-scale": ["yes" if len(variants[c]["scales"]) > 1 else "no" for c in variants],
        "train transforms": ["yes" if variants[c]["train_transforms"] else "no" for c in variants],
        "test transforms (ours)": [variants[c]["test_transforms"] for c in variants],
        "test transforms (paper)": paper["test_transforms"].reindex(names).values,
        "ours (mean AUROC)": per_category.mean().reindex(names).values,
        "paper (MVTec mean)": (paper["image_auroc"] / 100).reindex(names).values,
    }, index=names)


def ablation_claim(df: pd.DataFrame, paper: pd.DataFrame) -> dict:
    """Table 3's verdict (``claim_verdict`` keyword arguments): configuration G above A."""
    return dict(frame=df, paper_effect=float(paper.loc["G", "image_auroc"] - paper.loc["A", "image_auroc"]) / 100)


# --- MTD: Table 2, Figs. 5 and 6, cost -------------------------------------------------------------

def snapshot_aurocs(record: Record) -> list[tuple[int, float]]:
    """(epoch, test image AUROC) of each snapshot a DifferNet record kept (``extras``
    ``snapshot_epochs``, ``snapshot_scores``); empty without snapshots."""
    ex = record.extras
    if not ex.get("snapshot_scores"):
        return []
    return [(e, roc_auc_score(record.labels, s)) for e, s in zip(ex["snapshot_epochs"], ex["snapshot_scores"])]


def best_on_test(record: Record) -> tuple[float, int | None]:
    """The highest test AUROC among the kept snapshots and its epoch (model selection on the test set,
    as in the official code); ``(nan, None)`` without snapshots."""
    snaps = snapshot_aurocs(record)
    if not snaps:
        return np.nan, None
    i = int(np.argmax([a for _, a in snaps]))
    return snaps[i][1], snaps[i][0]


def mtd_table(records: Iterable[Record], paper: pd.Series) -> pd.DataFrame:
    """Table 2: per method (display name) the mean over seeds of the last epoch's image AUROC (``ours``),
    the paper's value, ``Δ (ours - paper)``, the best snapshot on test and its epoch, ``fit_s`` and
    ``predict_images_per_s``. ``paper``: image AUROC by display name."""
    rows = []
    for r in records:
        best, at = best_on_test(r)
        rows.append({"method": LABELS[r.config["method"]], "seed": r.config["seed"], "ours": r.metrics["image_auroc"],
                     "best epoch on test": best, "at epoch": at, "fit_s": r.timings["fit_s"],
                     "predict_images_per_s": r.timings["predict_images_per_s"]})
    ours = pd.DataFrame(rows).groupby("method", sort=False).mean(numeric_only=True).drop(columns="seed")
    ours.insert(1, "paper", paper.reindex(ours.index))
    ours.insert(2, "Δ (ours - paper)", ours["ours"] - ours["paper"])
    return ours


def auroc_intervals(records: Iterable[Record], n_boot: int = 2000) -> pd.DataFrame:
    """Each record's image AUROC with a 0.95 bootstrap interval (test images resampled within each
    class): columns method (display name), seed, image AUROC, 95 % low, 95 % high, test images."""
    rows = []
    for r in records:
        ci = auroc_interval(r.labels, r.scores, n_boot=n_boot)
        rows.append({"method": LABELS[r.config["method"]], "seed": r.config["seed"], "image AUROC": ci["auroc"],
                     "95 % low": ci["low"], "95 % high": ci["high"], "test images": len(r.labels)})
    return pd.DataFrame(rows)


def paper_differences(diffs: pd.DataFrame, paper: pd.Series) -> list[float]:
    """The paper's ``a - b`` for each row of a method-differences frame (columns ``a``, ``b``: method
    names); ``paper``: image AUROC by display name (nan where the paper has no value)."""
    return [paper.get(LABELS[a], np.nan) - paper.get(LABELS[b], np.nan) for a, b in zip(diffs.a, diffs.b)]


def recall_at_zero_fp(record: Record) -> dict:
    """The share of defective test images scored above every defect-free one (``recall``), and the
    numbers of defect-free (``good``) and defective (``defective``) test images."""
    s, y = np.array(record.scores), np.array(record.labels)
    return {"recall": (s[y == 1] > s[y == 0].max()).mean(), "good": int((y == 0).sum()), "defective": int(y.sum())}


def layer_name(params: dict) -> str:
    """A DifferNet config's backbone layer(s) as one name (``layer3+layer4``)."""
    return "+".join([params["layer"]] if isinstance(params["layer"], str) else params["layer"])


def cost_configs(chapter: Chapter, grid: dict, base: dict, dataset: str, category: str | None) -> dict[str, dict]:
    """The configs of the ``mtd_cost`` grid (label -> params changed, ``resize``: the image size) as
    changes of ``base`` (a DifferNet config: its seed and transform)."""
    out = {}
    for label, change in grid.items():
        change = dict(change)
        size = change.pop("resize", None)
        tf = dict(base["transform"], resize=size) if size else None
        out[label] = chapter.config("differnet", dataset, category, seed=base["seed"], save_maps=0, transform=tf,
                                    **change)
    return out


def cost_row(record: Record, n_boot: int = 1000) -> dict:
    """One DifferNet run's setting and cost: image size, layer, test rotations, training bank, epochs,
    jitter (None where the config has no such parameter), feature dimension, image AUROC with its 0.95 bootstrap
    interval (``low``, ``high``), fit and predict seconds and the feature-cache hits."""
    ci = auroc_interval(record.labels, record.scores, n_boot=n_boot)
    p, ex, t = record.config["params"], record.extras, record.timings
    return {"image size": record.config["transform"]["resize"], "layer": layer_name(p), "bank": p.get("train_bank"),
            "epochs": p.get("epochs"), "test rotations": p["test_transforms"], "jitter": p.get("jitter"),
            "dim": ex.get("feature_dim"), "image AUROC": ci["auroc"], "low": ci["low"], "high": ci["high"],
            "fit s": t["fit_s"], "predict s": t["predict_s"], "cache hits": ex.get("feature_cache_hits", 0)}


def cost_table(records: dict[str, Record], n_boot: int = 1000) -> pd.DataFrame:
    """Image AUROC against cost, one row per setting (label -> record): image size, layer, test
    rotations, image AUROC, low, high, ``fit + predict s``, cache hits."""
    rows = []
    for label, r in records.items():
        c = cost_row(r, n_boot)
        rows.append({"setting": label, **{k: c[k] for k in ("image size", "layer", "test rotations", "image AUROC",
                                                              "low", "high")},
                     "fit + predict s": c["fit s"] + c["predict s"], "cache hits": c["cache hits"]})
    return pd.DataFrame(rows).set_index("setting")


def run_cost(
    chapter: Chapter, base: Record, configs: list[dict], dataset: str, category: str | None
) -> dict[str, Record]:
    """Run the chapter's ``mtd_cost`` grid as changes of ``base`` (the profile's DifferNet record, whose
    config is among ``configs``): label -> record, the profile's own run first under ``profile``."""
    cfg = next(c for c in configs if c["method"] == "differnet" and c["seed"] == base.config["seed"])
    grid = cost_configs(chapter, chapter.grids["mtd_cost"], cfg, dataset, category)
    return {"profile": base, **dict(zip(grid, experiment.run_many(grid.values(), desc="differnet mtd cost")))}
