"""The benchmark chapter's analysis: every method on the same data, against the number of training
images and against training noise, what each costs, and the counts of the reproducibility report.

Every function returns a table (``pandas.DataFrame``), a dict or a sentence; the pages show them.
"""
from __future__ import annotations

import tempfile
import time
from typing import Iterable

import pandas as pd
import torch

from ..components.backbones import FeatureExtractor
from ..components.features import FEATURES
from ..config import data_label
from ..data.prepare import prepare
from ..evaluation.metrics import auroc_interval
from ..pipeline import run as experiment
from ..pipeline.spec import LABELS, Chapter, synthetic_data
from ..pipeline.store import Record, Store
from .trustmae import model_frame


def runs_on(grids: dict, method: str, dataset: str, category: str | None) -> bool:
    """Whether ``method`` runs on ``(dataset, category)``: the expensive (trained) methods of ``grids``
    only on its ``expensive_data`` (``"all"``: everywhere), the others everywhere."""
    where = grids["expensive_data"]
    return (
        method not in grids["expensive"]
        or where == "all"
        or data_label({"dataset": dataset, "category": category}) in where
    )


def comparison_configs(chapter: Chapter, methods: Iterable[str]) -> list[dict]:
    """Every method of ``methods`` on every pair of the chapter (:meth:`Chapter.pairs`) and seed where it
    runs (:func:`runs_on`)."""
    return [chapter.config(m, d, c, seed=s) for m in methods for d, c in chapter.pairs() for s in chapter.seeds
            if runs_on(chapter.grids, m, d, c)]


def comparison_frame(records: list[Record]) -> pd.DataFrame:
    """The runner's frame of ``records`` with ``data`` (``dataset:category``, or the dataset alone) and
    ``model`` (the method's display name)."""
    df = model_frame(records)
    df["data"] = [data_label(r.config) for r in records]
    return df


def method_order(methods: Iterable[str], df: pd.DataFrame) -> list[str]:
    """The display names of ``methods`` that ran (a ``model`` of ``df``), in the order of ``methods``."""
    return [LABELS[m] for m in methods if LABELS[m] in set(df["model"])]


def auroc_cells(records: Iterable[Record], mean: pd.DataFrame, n_boot: int) -> pd.DataFrame:
    """``mean`` (image AUROC, data x model) as text: each cell the mean and, in brackets, the bootstrap
    interval (95 %, ``n_boot`` resamples) of the first record of that data set and model; "—" where the
    method did not run."""
    cells = {}
    for r in records:
        key = (data_label(r.config), LABELS[r.config["method"]])
        if key not in cells:
            ci = auroc_interval(r.labels, r.scores, n_boot=n_boot)
            cells[key] = (ci["low"], ci["high"])
    text = mean.copy().astype(object)
    for (d, m), (lo, hi) in cells.items():
        text.loc[d, m] = f"{mean.loc[d, m]:.3f} [{lo:.2f}, {hi:.2f}]"
    return text.fillna("—").rename_axis(columns=None)


def test_sizes_text(records: Iterable[Record]) -> str:
    """One line: the test images (defective ones in brackets) of each data set of ``records`` (its last record's)."""
    last = {data_label(r.config): r for r in records}
    return "Test images per data set (defective): " + ", ".join(
        f"{d} {len(r.labels)} ({sum(r.labels)})" for d, r in last.items()) + "."


def pixel_tables(df: pd.DataFrame, order: list[str]) -> dict:
    """Pixel AUROC and PRO (data x model, mean over seeds) of the rows of :func:`comparison_frame` with a pixel
    AUROC, columns in ``order``: ``{heading: table}``; empty when no data set has masks."""
    masked = df[df["pixel_auroc"].notna()]
    if not len(masked):
        return {}
    columns = [m for m in order if m in set(masked["model"])]
    return {f"**{title}** (rows: data set; columns: method; —: no maps, or not run)":
            masked.pivot_table(index="data", columns="model", values=metric, aggfunc="mean")
            .reindex(columns=columns).rename_axis(columns=None)
            for metric, title in (("pixel_auroc", "Pixel AUROC"), ("aupro", "PRO (AUPRO, FPR <= 0.3)"))}


def no_maps_text(df: pd.DataFrame) -> str:
    """One line naming the methods of :func:`comparison_frame` without a pixel AUROC anywhere (no maps)."""
    no_maps = sorted({LABELS[m] for m in df["method"]} - set(df[df["pixel_auroc"].notna()]["model"]))
    return ("Methods without anomaly maps (image scores only): " + (", ".join(no_maps) or "none") + ". "
            "ELPV has no masks: its pixel metrics are not available.")


def rank_table(mean: pd.DataFrame) -> pd.DataFrame:
    """Over the data sets (rows of ``mean``, image AUROC data x model) where every method ran: each method's
    mean rank (1 = best) and mean image AUROC, best first; empty when there is no such data set."""
    full = mean.dropna(axis=0, how="any")
    if not len(full):
        return pd.DataFrame()
    rank = pd.DataFrame({"mean rank": full.rank(axis=1, ascending=False).mean(), "mean image AUROC": full.mean()})
    return rank.sort_values("mean rank")


def comparison_summary(rank: pd.DataFrame, mean: pd.DataFrame, n_methods: int) -> str:
    """The comparison page's summary line: ``n_methods`` methods, and the best mean rank of
    :func:`rank_table` with its mean image AUROC and the number of complete data sets of ``mean``."""
    full = mean.dropna(axis=0, how="any")
    best = (f" Best mean rank: {rank.index[0]} ({rank['mean image AUROC'].iloc[0]:.3f} mean image AUROC over "
            f"{len(full)} data set(s) where all methods ran)." if len(rank) else "")
    return f"{n_methods} methods, one protocol.{best}"


def cost_pair(chapter: Chapter) -> tuple[str, str | None]:
    """The ``(dataset, category)`` of the grid ``cost_data`` (``dataset:category``) among the chapter's pairs,
    else its first pair."""
    pairs = chapter.pairs()
    want = chapter.grids["cost_data"].split(":")
    return next(((d, c) for d, c in pairs if d == want[0] and (c or "") == (want[1] if len(want) > 1 else "")),
                pairs[0])


def floor_key(cfg: dict) -> tuple:
    """What a backbone floor depends on: backbone, layers, image size and crop of ``cfg``."""
    p, t = cfg["params"], cfg["transform"]
    return p.get("backbone"), tuple(p.get("layers") or [p.get("layer")]), t["resize"], t.get("crop")


def backbone_floor(cfg: dict, n_images: int) -> dict | None:
    """Images/s of the method's pretrained backbone alone, through the deepest layer it reads, on the first
    ``n_images`` test images in batches of 16 after one warm-up batch: ``{"backbone", "floor images/s"}``;
    None for a method trained from scratch."""
    p = cfg["params"]
    if not p.get("backbone"):
        return None
    layers = list(p.get("layers") or [p["layer"]]) + ([p["global_layer"]] if p.get("global_layer") else [])
    ext = FeatureExtractor(p["backbone"], layers, weights=p.get("weights")).eval()
    x = prepare(cfg).test[:n_images]
    with torch.no_grad():
        ext(x[:16])
        t0 = time.perf_counter()
        for i in range(0, len(x), 16):
            ext(x[i:i + 16])
        dt = time.perf_counter() - t0
    return {"backbone": f"{p['backbone']} to {layers[-1] if len(layers) == 1 else max(layers)}",
            "floor images/s": len(x) / max(dt, 1e-9)}


def backbone_floors(configs: Iterable[dict], n_images: int) -> dict:
    """:func:`backbone_floor` once per :func:`floor_key` of ``configs``: ``{floor_key: floor or None}``."""
    floors: dict = {}
    for cfg in configs:
        if floor_key(cfg) not in floors:
            floors[floor_key(cfg)] = backbone_floor(cfg, n_images)
    return floors


def remeasure_shared(configs: list[dict], records: list[Record], remeasure: bool) -> tuple[list[Record], list[str]]:
    """The records whose backbone features came from the feature cache (an earlier run extracted them), run
    again with the cache off in a throwaway store when ``remeasure`` (the book's records are not touched).
    Returns ``(records, names)``: the records with those replaced (when remeasured) and their methods' names."""
    records, names = list(records), []
    scratch = Store(tempfile.mkdtemp(prefix="defectbook-cost-")) if remeasure else None
    for i, (cfg, r) in enumerate(zip(configs, records)):
        if r.extras.get("feature_cache_hits", 0) > 0:
            if remeasure:
                with FEATURES.off():
                    records[i] = experiment.run(cfg, store=scratch, force=True)
            names.append(LABELS[r.config["method"]])
    return records, names


def cost_table(configs: list[dict], records: list[Record], floors: dict) -> pd.DataFrame:
    """One row per method: image size, training images, fit time, inference speed, peak memory, its backbone
    floor (:func:`backbone_floors`) and ``floor share`` (inference speed / floor)."""
    rows = []
    for cfg, r in zip(configs, records):
        t = cfg["transform"]
        f = floors[floor_key(cfg)] or {}
        rows.append({"method": LABELS[r.config["method"]], "image size": t.get("crop") or t["resize"],
                     "training images": r.extras["split"]["n_train"], "fit (s)": r.timings["fit_s"],
                     "predict (images/s)": r.timings["predict_images_per_s"],
                     "peak RSS (MB)": r.memory.get("peak_rss_mb"),
                     "backbone floor (images/s)": f.get("floor images/s"),
                     "backbone": f.get("backbone", "trained from scratch")})
    cost = pd.DataFrame(rows).set_index("method")
    cost["floor share"] = cost["predict (images/s)"] / cost["backbone floor (images/s)"]
    return cost


def cost_note(configs: list[dict], records: list[Record], remeasured: list[str], remeasure: bool) -> str:
    """The line under the cost table: data, test images, torch threads, and where each time was measured."""
    return (
        f"Data: {data_label(configs[0])}, {len(records[0].labels)} test images; threads: {torch.get_num_threads()}; "
        f"floor measured in this kernel, the methods' times when their records were computed"
        + (
            ""
            if not remeasured
            else f", except {', '.join(remeasured)}: measured again in this kernel with the feature cache off"
            if remeasure
            else f"; {', '.join(remeasured)}: backbone features served by the build's "
            "feature cache from an earlier run (their feature extraction is not in their times)"
        )
        + "."
    )


def cost_summary(cost: pd.DataFrame) -> str:
    """The cost page's summary line: the fastest and the slowest fit and the fastest inference of :func:`cost_table`."""
    return (f"Fastest fit: {cost['fit (s)'].idxmin()} ({cost['fit (s)'].min():.1f} s); slowest: "
            f"{cost['fit (s)'].idxmax()} ({cost['fit (s)'].max():.1f} s); fastest inference: "
            f"{cost['predict (images/s)'].idxmax()} ({cost['predict (images/s)'].max():.1f} images/s).")


def fewshot_configs(chapter: Chapter, methods: list[str], pairs, sizes) -> list[dict]:
    """Every method on each pair with each of ``sizes`` training images (few-shot split) and seed, then on the
    whole training set (clean split)."""
    return ([chapter.config(m, d, c, seed=s, split={"kind": "few_shot", "n": n})
             for m in methods for d, c in pairs for n in sizes for s in chapter.seeds]
            + [chapter.config(m, d, c, seed=s) for m in methods for d, c in pairs for s in chapter.seeds])


def training_size_frame(records: list[Record]) -> pd.DataFrame:
    """:func:`~defectbook.analysis.trustmae.model_frame` with ``n_train``, the training images of each run."""
    df = model_frame(records)
    df["n_train"] = [r.extras["split"]["n_train"] for r in records]
    return df


def data_text(pairs, records: Iterable[Record]) -> str:
    """One line: the data sets of ``pairs`` and the test-set sizes of ``records``."""
    return (f"Data: {', '.join(data_label({'dataset': d, 'category': c}) for d, c in pairs)}; "
            f"test images per run: {sorted({len(r.labels) for r in records})}.")


def share_reached(curves: pd.DataFrame) -> pd.DataFrame:
    """Per method (columns of ``curves``, image AUROC per number of training images): the AUROC with the
    fewest and with the most images and the share of the latter the former reaches, highest share first."""
    few, most = min(curves.index), max(curves.index)
    return pd.DataFrame({f"AUROC with {few}": curves.loc[few], f"AUROC with {most}": curves.loc[most],
                         "share reached": curves.loc[few] / curves.loc[most]}).sort_values("share reached",
                                                                                           ascending=False)


def fewshot_summary(gain: pd.DataFrame, curves: pd.DataFrame) -> str:
    """The few-shot page's summary line: the method of :func:`share_reached` that keeps the largest share."""
    few, most = min(curves.index), max(curves.index)
    return (f"With {few} training images, {gain.index[0]} keeps the largest share of its "
            f"AUROC at {most} ({gain['share reached'].iloc[0]:.2f}).")


def noise_configs(chapter: Chapter, methods: list[str], pairs, levels) -> list[dict]:
    """Every method on each pair, noise level (noisy split, one test set for every level) and seed; the
    synthetic data are those of the chapter named by the grid ``noise_data`` (enough defective images to
    move into training)."""
    def config(m, d, c, s, r):
        cfg = chapter.config(m, d, c, seed=s, split=chapter.noisy(r))
        if d == "synthetic":
            cfg["data"] = synthetic_data(chapter.P, chapter.grids["noise_data"])
        return cfg

    return [config(m, d, c, s, r) for m in methods for d, c in pairs for r in levels for s in chapter.seeds]


def noise_frame(records: list[Record]) -> pd.DataFrame:
    """:func:`~defectbook.analysis.trustmae.model_frame` with ``noise`` (0 for a clean split) and
    ``achieved`` (the defective share of the training set the split reached)."""
    df = model_frame(records)
    df["noise"] = df["noise"].fillna(0.0)
    df["achieved"] = [r.extras["split"].get("noise_ratio", 0.0) for r in records]
    return df


def achieved_text(df: pd.DataFrame, records: Iterable[Record]) -> str:
    """One line: the achieved defective share per requested level of :func:`noise_frame` and the test-set sizes."""
    return ("Achieved defective share of the training set per level: " + ", ".join(
        f"{n:.0%} → {a:.0%}" for n, a in df.groupby("noise")["achieved"].mean().items()) +
        f"; test images per run: {sorted({len(r.labels) for r in records})} (one fixed test set).")


def drop_summary(drops: pd.DataFrame, levels) -> str:
    """The noise page's summary line: the smallest and the largest drop of ``drops`` (sorted by ``drop``)."""
    lo, hi = min(levels), max(levels)
    return (f"Smallest drop from {lo:.0%} to {hi:.0%} noise: {drops.index[0]} "
            f"({drops['drop'].iloc[0]:+.3f}); largest: {drops.index[-1]} ({drops['drop'].iloc[-1]:+.3f}).")


def verdict_glue(counts: pd.DataFrame, papers: dict, verdicts: Iterable[str]) -> dict:
    """One count per paper and word of the reproducibility report's ``counts`` (paper x word), named
    ``<paper key>_<word>`` with spaces as underscores (``npad_value_matches``, ``trustmae_not_computed``); 0
    for a paper without a row."""
    return {f"{key}_{v.replace(' ', '_')}": int(counts.loc[paper, v]) if paper in counts.index else 0
            for key, paper in papers.items() for v in verdicts}


def report_summary(report: pd.DataFrame, counts: pd.DataFrame, n_records: int, profile: str,
                   verdicts: Iterable[str]) -> str:
    """The reproducibility page's summary. Its first sentence counts what is covered: the cells the pages
    reproduce, how many this build computed and how many of those got each word (``verdicts``, the last
    being *not computed*); then, per paper, its computed cells by word."""
    verdicts = list(verdicts)
    done = report[report["verdict"] != verdicts[-1]] if len(report) else report
    words = [f"{int((done['verdict'] == w).sum())} {w}" for w in verdicts[:-1]]
    parts = [f"{paper}: " + (", ".join(f"{int(row[v])} {v}" for v in verdicts[:-1] if row[v]) or "none computed")
             + f" (of {int(row['total'])})" for paper, row in counts.iterrows()]
    return (
        f"Profile {profile}: the book's pages cover {len(report)} paper cells; this build computed "
        f"{len(done)} of them from {n_records} records: " + ", ".join(words[:-1]) + f" and {words[-1]}. "
        + "; ".join(parts) + "."
        + (" Smoke profile: tiny data and models, every computed cell is not comparable." if profile == "smoke" else "")
    )
