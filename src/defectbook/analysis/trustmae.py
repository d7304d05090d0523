"""The TrustMAE chapter's analysis: noise curves, the difference of drops, the ablation, the memory
and trust-region diagnostics and the tables of its pages, computed from the runner's records.

Every function returns a table (``pandas.DataFrame``), a dict or a sentence; the pages show them
(:mod:`defectbook.book.report`) and ``benchmarks/trustmae_noise_power.py`` reuses the difference of drops.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd
import torch

from .. import DefectbookError
from ..config import data_label
from ..data import load_masks
from ..data.prepare import load_split_for
from ..data.transforms import make_mask_transform
from ..evaluation import metrics
from ..evaluation.metrics import auroc_interval
from ..evaluation.stats import direction_word, drop_bootstrap, interval
from ..pipeline.run import frame
from ..pipeline.spec import LABELS, Chapter
from ..pipeline.store import Record

#: The ablation's variants as the paper's supplementary Table 3 orders them (top: the least complete model).
ABLATION_ORDER = ["ours w/o PD w/o TR", "ours w/o SP", "ours w/o PD", "ours w/o TR", "ours"]
#: The trained variants of the ablation: name -> TrustMAE params (``w/o PD`` is read from the same models).
ABLATION_TRAINED = {"full": {}, "w/o TR": {"trust_region": False}, "w/o SP": {"sparse": False}}
#: The categories on which the paper uses fewer down-sampling layers (Sec. 3.7).
FINE_CATEGORIES = ["grid", "screw", "pill", "capsule"]


def model_frame(records: Iterable[Record], labels: dict | None = None) -> pd.DataFrame:
    """The runner's frame of ``records`` (one row each) with a ``model`` column: the method's display name
    (``labels``, default :data:`defectbook.pipeline.spec.LABELS`)."""
    df = frame(records)
    df["model"] = df["method"].map(labels or LABELS)
    return df


def noise_frame(records: list[Record]) -> pd.DataFrame:
    """Fig. 4's runs: :func:`model_frame` with ``noise`` (0 for a clean split), ``achieved_noise`` (the
    defective share of the training set the split reached) and ``n_train`` (training images)."""
    df = model_frame(records)
    df["noise"] = df["noise"].fillna(0.0)
    df["achieved_noise"] = [r.extras["split"].get("noise_ratio", 0.0) for r in records]
    df["n_train"] = [r.extras["split"]["n_train"] for r in records]
    return df


def paper_noise_curves(paper: pd.DataFrame) -> pd.DataFrame:
    """The paper's supplementary Table 4 (``method``, ``noise``, ``mean`` rows) as noise x model, with the
    paper's "Ours" named TrustMAE."""
    paper = paper.assign(model=paper["method"].replace({"Ours": "TrustMAE"}))
    return paper.pivot_table(index="noise", columns="model", values="mean")


def training_sets_text(df: pd.DataFrame) -> str:
    """One line: per requested noise level of :func:`noise_frame`'s ``df``, the achieved defective share and
    the number of training images (means over its runs)."""
    means = df.groupby("noise")[["achieved_noise", "n_train"]].mean().reset_index()
    return "Training sets actually used (achieved defective share, images): " + ", ".join(
        f"{n:.2f}→{a:.2f} ({t})" for n, a, t in means.itertuples(index=False, name=None))


def noise_configs(chapter: Chapter, models: Iterable[str], pairs, levels) -> list[dict]:
    """Fig. 4's grid: every model of ``models`` on each ``(dataset, category)`` of ``pairs``, noise level of
    ``levels`` (noisy split, one test set for every level) and seed of the chapter."""
    return [chapter.config(m, d, c, seed=s, split=chapter.noisy(n))
            for m in models for d, c in pairs for n in levels for s in chapter.seeds]


def screen_configs(chapter: Chapter, models: list[str], categories: list[str], seed: int | None = None) -> list[dict]:
    """The clean-split screen of Fig. 4's category: every model on each of ``categories``, one ``seed``
    (None: the chapter's first)."""
    seed = chapter.seeds[0] if seed is None else seed
    return [chapter.config(m, d, c, seed=seed) for d, c in chapter.categories(categories) for m in models]


def screen_table(records: Iterable[Record]) -> pd.DataFrame:
    """Image AUROC per category (rows) and model (columns) of the screen's ``records`` with their ``mean``
    column, best category first."""
    table = model_frame(records).pivot_table(index="category", columns="model", values="image_auroc")
    table["mean"] = table.mean(1)
    return table.sort_values("mean", ascending=False)


def drop_table(curves: pd.DataFrame, records: Iterable[Record], levels, n_boot: int | None = None,
               labels: dict | None = None) -> pd.DataFrame:
    """Per model (the columns of ``curves``, mean image AUROC per noise level): the AUROC at the lowest and
    the highest of ``levels``, the ``drop`` between them, and the bootstrap interval (95 %) of each of the two
    AUROCs of the first record of that model and level in ``records`` (``n_boot`` resamples; None:
    :func:`~defectbook.evaluation.metrics.auroc_interval`'s default), as ``"[low, high]"`` text."""
    labels = labels or LABELS
    lo, hi = min(levels), max(levels)
    table = pd.DataFrame({f"AUROC at {lo:.0%}": curves.loc[lo], f"AUROC at {hi:.0%}": curves.loc[hi],
                          "drop": curves.loc[lo] - curves.loc[hi]})
    spread: dict = {}
    for r in records:
        key = (labels[r.config["method"]], r.config["split"].get("ratio", 0.0))
        if key[1] in (lo, hi) and key not in spread:
            ci = auroc_interval(r.labels, r.scores, **({} if n_boot is None else {"n_boot": n_boot}))
            spread[key] = f"[{ci['low']:.3f}, {ci['high']:.3f}]"
    for n in (lo, hi):
        table[f"95 % interval at {n:.0%}"] = [spread.get((m, n), "") for m in table.index]
    return table


def drop_sign_text(drop: pd.Series, levels, profile: str) -> str | None:
    """Whether TrustMAE's drop (``drop``: per model display name) is smaller than AE-MSE's and MemAE's, in
    words; None when one of the three is missing."""
    if not {"TrustMAE", "AE-MSE", "MemAE"} <= set(drop.index):
        return None
    lo, hi = min(levels), max(levels)
    holds = drop["TrustMAE"] < drop["AE-MSE"] and drop["TrustMAE"] < drop["MemAE"]
    gap = min(drop["AE-MSE"], drop["MemAE"]) - drop["TrustMAE"]
    return (f"From {lo:.0%} to {hi:.0%} noise TrustMAE's image AUROC changes by {-drop['TrustMAE']:+.3f}, "
            f"AE-MSE's by {-drop['AE-MSE']:+.3f} and MemAE's by {-drop['MemAE']:+.3f}: in sign the paper's effect "
            f"**{'appears' if holds else 'does not appear'}** in this run"
            + (f", by a margin of {gap:.3f}; compare it with the width of the intervals above "
               "before reading it as an effect" if holds else "")
            + (" (smoke profile: meaningless)." if profile == "smoke" else "."))


#: The models of the difference of drops: TrustMAE and its baselines, in this order.
DROP_MODELS = ("trustmae", "memae", "ae_l2")


def drop_configs(chapter: Chapter, models: Iterable[str], levels, seeds=None, categories=None, real=None) -> list[dict]:
    """The configs of the difference of drops: each of :data:`DROP_MODELS` that ``models`` holds, at the lowest
    and the highest of ``levels`` (noisy split, one test set for both), on the pairs
    ``chapter.pairs(categories, real)`` (None: the grids' ``drop_categories``, ``drop_real``) and ``seeds``
    (None: the grid ``drop_seeds``; the first only in a dry run), unit by unit (seed, then data set) so that a
    run stopped early leaves whole units. The synthetic units get the larger test sets of the grid ``drop_data``."""
    grids = chapter.grids
    lo, hi = min(levels), max(levels)
    seeds = list(grids["drop_seeds"] if seeds is None else seeds)
    seeds = seeds[:1] if chapter.dry_run else seeds
    categories = (grids["drop_categories"] or None) if categories is None else categories
    real = grids["drop_real"] if real is None else real
    configs = [chapter.config(m, d, c, seed=s, split=chapter.noisy(n)) for s in seeds
               for d, c in chapter.pairs(categories, real) for m in DROP_MODELS if m in models for n in (lo, hi)]
    for c in configs:
        if c["dataset"] == "synthetic":
            c["data"] = {**c["data"], **grids["drop_data"]}
    return configs


def drop_difference(records: Iterable[Record], a: str = "trustmae", b: str = "memae", levels=(0.0, 0.4),
                    n_boot: int = 2000, seed: int = 0, level: float = 0.95, image_ids="split") -> dict:
    """TrustMAE's central claim as one statistic: the difference of drops
    ``D = [AUROC_a(clean) - AUROC_a(noisy)] - [AUROC_b(clean) - AUROC_b(noisy)]`` in image AUROC, with
    ``levels = (clean, noisy)`` training-noise ratios (a record's ``config["split"]["ratio"]``, 0 for a
    clean split). The paper's effect is ``D < 0`` (``a`` loses less than ``b``).

    Units are the ``(data, seed)`` pairs that have all four runs (``a`` and ``b`` at both levels); the
    four runs of a unit must share one test set (identical labels and defect types, in order: the
    noisy protocol's ``fixed_test``), else :class:`DefectbookError`. ``D`` is the mean of the units' D.

    Interval: paired percentile bootstrap over test images. Each replicate draws, per data set and class,
    a multinomial weight for every test image of that data set (the seeds of one data set share most of
    their test images, so they are resampled together); every unit's four AUROCs are recomputed exactly
    on those weights (ties count 1/2) and D is averaged over the units. It shows the sampling error of the
    test images; training seeds enter as units. ``image_ids``: ``"split"`` (the test images' paths, from
    the record's split), a callable ``record -> [M] ids``, or None (each unit's images are its own).

    Returns ``{"difference", "low", "high", "width", "n" (units), "n_boot", "word", "units"}``; ``word``:
    ``agrees`` (interval below 0), ``disagrees`` (above 0), ``no effect`` (holds 0 and narrower than
    0.05) or ``undecided``; ``units``: a frame of the per-unit drops, D and test-set sizes.
    """
    clean, noisy = (float(x) for x in levels)
    if image_ids == "split":
        image_ids = lambda r: [s.path for s in load_split_for(r.config).test]  # noqa: E731

    def ratio(r: Record) -> float:
        s = r.config.get("split") or {}
        return float(s.get("ratio", 0.0)) if s.get("kind") == "noisy" else 0.0

    runs: dict = {}
    for r in records:
        m, x = r.config["method"], ratio(r)
        if m in (a, b) and x in (clean, noisy):
            runs.setdefault((data_label(r.config), r.config.get("seed")), {})[(m, x)] = r
    need = [(a, clean), (a, noisy), (b, clean), (b, noisy)]
    units, arrays = [], []
    for (data, s), got in sorted(runs.items(), key=lambda kv: str(kv[0])):
        if not all(k in got for k in need):
            continue
        four = [got[k] for k in need]
        if any(r.labels != four[0].labels or r.defects != four[0].defects for r in four[1:]):
            raise DefectbookError(f"{data}, seed {s}: the runs of {a} and {b} at noise {clean:g} and {noisy:g} were "
                                  f"scored on different test sets (build the noisy splits with fixed_test=True)")
        y = np.asarray(four[0].labels)
        if y.all() or not y.any():
            raise DefectbookError(f"{data}, seed {s}: the test set needs defect-free and defective images")
        ids = [(data, s, i) for i in range(len(y))] if image_ids is None else [(data, i) for i in image_ids(four[0])]
        if len(ids) != len(y) or len(set(ids)) != len(y):
            raise DefectbookError(f"{data}, seed {s}: {len(ids)} image ids for {len(y)} test images (or repeated ids)")
        sc = [np.asarray(r.scores, dtype=float) for r in four]
        # the comparison matrix of each run [n_pos, n_neg]: 1 where a defective image outscores a defect-free one,
        # 1/2 on ties
        K = [np.sign(v[y == 1][:, None] - v[y == 0][None, :]) * 0.5 + 0.5 for v in sc]
        auc = [float(k.mean()) for k in K]
        units.append({"data": data, "seed": s, f"drop {a}": auc[0] - auc[1], f"drop {b}": auc[2] - auc[3],
                      "D": (auc[0] - auc[1]) - (auc[2] - auc[3]), "n_test": len(y), "n_defective": int(y.sum())})
        arrays.append((data, [i for i, v in zip(ids, y) if v == 1], [i for i, v in zip(ids, y) if v == 0], K))
    table_ = pd.DataFrame(units)
    if not units:
        return {"difference": float("nan"), "low": float("nan"), "high": float("nan"), "width": float("nan"),
                "n": 0, "n_boot": int(n_boot), "word": "undecided", "units": table_}
    lo, hi = drop_bootstrap(arrays, n_boot, seed, level)
    effect = {"difference": float(table_["D"].mean()), "low": lo, "high": hi}
    word = direction_word(effect, paper_sign=-1)
    if word == "undecided" and hi - lo < 0.05:
        word = "no effect"
    return {**effect, "width": hi - lo, "n": len(units), "n_boot": int(n_boot), "word": word, "units": table_}


def drop_effects(records: list[Record], models: Iterable[str], levels, n_boot: int, image_ids="split") -> dict:
    """:func:`drop_difference` between the lowest and the highest of ``levels`` of the first of
    :data:`DROP_MODELS` that ``models`` holds (TrustMAE) against each of the others there (its baselines):
    ``{baseline: effect}``. ``image_ids``: as :func:`drop_difference`'s."""
    lo, hi = min(levels), max(levels)
    present = [m for m in DROP_MODELS if m in models]
    return {b: drop_difference(records, "trustmae", b, (lo, hi), n_boot=n_boot, image_ids=image_ids)
            for b in present[1:]}


def drop_glue(effects: dict) -> dict:
    """The glued names of :func:`drop_effects`' ``effects`` that a page's text cites: ``D_<baseline>`` (D),
    ``D_<baseline>_low``, ``D_<baseline>_high`` (its interval) and ``D_<baseline>_word`` (the verdict word)."""
    return {f"D_{b}{suffix}": e[key] for b, e in effects.items()
            for suffix, key in (("", "difference"), ("_low", "low"), ("_high", "high"), ("_word", "word"))}


def effects_table(effects: dict) -> pd.DataFrame:
    """One row per baseline of :func:`drop_effects`' ``effects``: D, its bootstrap interval and width, the
    Student-t interval over the units' D (text; "—" for one unit), the units, the range of their test-set
    sizes and the verdict word."""
    def t_text(e):
        return "{low:+.3f} to {high:+.3f}".format(**interval(e["units"]["D"])) if e["n"] > 1 else "—"

    return pd.DataFrame([{"baseline": LABELS[b], "D (mean over units)": e["difference"], "bootstrap low": e["low"],
                          "bootstrap high": e["high"], "width": e["width"], "t-interval over units": t_text(e),
                          "units": e["n"], "test images per unit": "{}–{}".format(e["units"]["n_test"].min(),
                                                                                  e["units"]["n_test"].max())
                          if e["n"] else "—", "verdict": e["word"]} for b, e in effects.items()])


def units_table(effects: dict, label_drops: bool = True) -> pd.DataFrame:
    """The units of :func:`drop_effects`' ``effects`` side by side (one row per data set and seed): each
    model's drop and D against each baseline (``D vs <baseline>``). ``label_drops``: the drop columns under
    the models' display names (``drop TrustMAE``), else their method names (``drop trustmae``). Empty when
    no effect has units."""
    units = None
    for b, e in effects.items():
        names = {"D": f"D vs {LABELS[b]}"}
        if label_drops:
            names.update({"drop trustmae": "drop TrustMAE", f"drop {b}": f"drop {LABELS[b]}"})
        u = e["units"].rename(columns=names)
        drop_b = names.get(f"drop {b}", f"drop {b}")
        units = u if units is None else units.merge(u[["data", "seed", drop_b, f"D vs {LABELS[b]}"]],
                                                    on=["data", "seed"])
    return units if units is not None else pd.DataFrame()


def defective_share(records: Iterable[Record], level: float) -> dict:
    """The defective share of the training set TrustMAE's run at noise ``level`` actually used, per
    ``(data, seed)`` (read from the split: real data sets cap their training set)."""
    share = {}
    for r in records:
        if r.config["method"] == "trustmae" and r.config["split"].get("ratio") == level:
            train = load_split_for(r.config).train
            share[(data_label(r.config), r.config["seed"])] = sum(s.label for s in train) / len(train)
    return share


def units_with_share(effects: dict, records: Iterable[Record], level: float) -> pd.DataFrame:
    """:func:`units_table` with the column ``defective share at <level>`` (:func:`defective_share`)."""
    units = units_table(effects)
    if len(units):
        share = defective_share(records, level)
        units[f"defective share at {level:.0%}"] = [share.get((d, s), float("nan"))
                                                     for d, s in zip(units["data"], units["seed"])]
    return units


def per_data_table(effects: dict, records: list[Record], levels, n_boot: int, image_ids="split") -> pd.DataFrame:
    """D per data set: :func:`drop_difference` on the records of each data set that has units in
    ``effects``, one row per baseline and data set (``baseline``, ``data``, ``D``, ``bootstrap low``,
    ``bootstrap high``, ``seeds``, ``test images`` (its first unit's), ``verdict``). ``image_ids``: as
    :func:`drop_difference`'s."""
    lo, hi = min(levels), max(levels)
    rows = []
    for b, e in effects.items():
        for d in sorted(set(e["units"]["data"])) if e["n"] else []:
            f = drop_difference([r for r in records if data_label(r.config) == d], "trustmae", b, (lo, hi),
                                n_boot=n_boot, image_ids=image_ids)
            rows.append({"baseline": LABELS[b], "data": d, "D": f["difference"], "bootstrap low": f["low"],
                         "bootstrap high": f["high"], "seeds": f["n"], "test images": int(f["units"]["n_test"].iloc[0]),
                         "verdict": f["word"]})
    return pd.DataFrame(rows)


def trust_region_table(records: Iterable[Record]) -> pd.DataFrame:
    """Per noise level (mean over TrustMAE's ``records``): the last epoch's trust-region shares (pulled,
    pushed, ignored), mean δ₁ and nearest-slot distance, the memory slots used, and the image AUROC with
    the squared error x perceptual distance score and with the squared error alone. Empty without TrustMAE."""
    tm = [r for r in records if r.config["method"] == "trustmae"]
    if not tm:
        return pd.DataFrame()
    keys = ("tr_pull", "tr_push", "tr_ignore", "delta1_mean", "dist_nearest_mean")
    return pd.DataFrame([{"noise": r.config["split"].get("ratio", 0.0),
                          **{k: r.extras["history"][k][-1] for k in keys},
                          "slots used": r.extras["memory"]["slots_used"],
                          "image AUROC (MSE x PD)": r.metrics["image_auroc"],
                          "image AUROC (MSE only)": metrics.image_auroc(r.labels,
                                                                        r.extras["mse_scores_by_pooling"]["max"])}
                         for r in tm]).groupby("noise").mean()


def paper_drop_difference(paper: pd.DataFrame) -> float:
    """The paper's D against MemAE from :func:`paper_noise_curves` (first row minus last): TrustMAE's drop minus
    MemAE's; NaN without both columns."""
    ref = paper.reindex(columns=["TrustMAE", "MemAE"])
    if len(ref) < 2:
        return float("nan")
    drop = ref.iloc[0] - ref.iloc[-1]
    return float(drop["TrustMAE"] - drop["MemAE"])


def ablation_configs(chapter: Chapter, categories, levels) -> list[tuple[str, dict]]:
    """Fig. 5's trained variants (:data:`ABLATION_TRAINED`) on each category, noise level and seed:
    ``[(variant, config)]``."""
    return [
        (name, chapter.config("trustmae", d, c, seed=s, split=chapter.noisy(n), **switches))
        for name, switches in ABLATION_TRAINED.items()
        for d, c in categories
        for n in levels
        for s in chapter.seeds
    ]


def ablation_frame(runs: list[tuple[str, dict]], records: list[Record]) -> pd.DataFrame:
    """One row per variant and run (``variant``, ``noise``, ``category``, ``image_auroc``): the trained
    variants' scores, and "w/o PD" read from the same models' squared-error scores (``ours w/o PD`` from the
    full model, ``ours w/o PD w/o TR`` from the model without trust region)."""
    shown = {"full": "ours", "w/o TR": "ours w/o TR", "w/o SP": "ours w/o SP"}
    without_pd = {"full": "ours w/o PD", "w/o TR": "ours w/o PD w/o TR"}
    rows = []
    for (name, cfg), r in zip(runs, records):
        noise = cfg["split"].get("ratio", 0.0)
        rows.append({"variant": shown[name], "noise": noise, "category": cfg["category"],
                     "image_auroc": r.metrics["image_auroc"]})
        if name in without_pd:
            rows.append({"variant": without_pd[name], "noise": noise, "category": cfg["category"],
                         "image_auroc": metrics.image_auroc(r.labels, r.extras["mse_scores_by_pooling"]["max"])})
    return pd.DataFrame(rows)


def ablation_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean image AUROC per variant (rows, :data:`ABLATION_ORDER`) and noise level of :func:`ablation_frame`."""
    return df.pivot_table(index="variant", columns="noise", values="image_auroc", aggfunc="mean").reindex(
        ABLATION_ORDER
    )


def paper_ablation(paper: pd.DataFrame) -> pd.DataFrame:
    """The paper's supplementary Table 3 (``method``, ``noise``, ``mean``) as variant x noise level."""
    return paper.pivot_table(index="method", columns="noise", values="mean").reindex(ABLATION_ORDER)


def example_indices(labels, n: int) -> list[int]:
    """The first ``n // 2`` defect-free test images, then the first defective ones up to ``n`` in all."""
    normal = [i for i in range(len(labels)) if labels[i] == 0][: n // 2]
    return normal + [i for i in range(len(labels)) if labels[i] == 1][: n - len(normal)]


def memory_contamination(fitted: dict, prep, transform: dict) -> pd.DataFrame:
    """Fig. 6's contamination, measured: per fitted model (``{name: (detector, prepared data)}``), the mean
    distance of the training latent vectors to their nearest memory slot on defect-free training images and
    on the defects (in mask) of defective ones, their ratio and the number of defective training images.
    ``prep``: the prepared data of the models; ``transform``: the config's (masks at the training size)."""
    train_labels = np.array([s.label for s in prep.split.train])
    train_masks = load_masks(prep.split.train, make_mask_transform(transform["resize"], transform.get("crop")))
    rows = []
    for name, (det, _) in fitted.items():
        nd = det.memory_access(prep.train)["nearest_dist"]                     # [N, h, w]
        m = torch.nn.functional.adaptive_max_pool2d(train_masks[:, None], nd.shape[-2:])[:, 0] > 0
        normal_d = nd[torch.from_numpy(train_labels == 0)].flatten()
        bad = torch.from_numpy(train_labels == 1)
        in_mask = nd[bad][m[bad]] if bad.any() else torch.tensor([])
        rows.append(
            {
                "model": name,
                "normal image patches": normal_d.mean().item(),
                "defective image, in mask": in_mask.mean().item() if len(in_mask) else float("nan"),
                "ratio (defect / normal)": (in_mask.mean() / normal_d.mean()).item() if len(in_mask) else float("nan"),
                "n defective training images": int(bad.sum()),
            }
        )
    return pd.DataFrame(rows)


def distance_scores(maps: dict, prep) -> pd.DataFrame:
    """Fig. 7: per distance map (``{name: [N, H, W] tensor}`` over the test set of ``prep``), the pixel AUROC
    and the image AUROC of its spatial maximum. Empty without masks."""
    if prep.masks is None:
        return pd.DataFrame()
    return pd.DataFrame({d: {"pixel AUROC": metrics.pixel_auroc(prep.masks.numpy(), m.numpy()),
                             "image AUROC (max)": metrics.image_auroc(prep.labels, m.flatten(1).amax(1).numpy())}
                         for d, m in maps.items()}).T


def distance_frame(scores: pd.DataFrame) -> pd.DataFrame:
    """:func:`distance_scores` with one row per distance, named in capitals (``PD``, ``MSE``) in a
    ``distance`` column (the verdict's frame)."""
    return scores.rename(index=str.upper).rename_axis("distance").reset_index() if len(scores) else pd.DataFrame()


def memory_access_table(records: dict) -> pd.DataFrame:
    """Fig. 8: per addressing (``{name: record}``, columns), the non-zero weights per latent vector, the
    slots used, the largest share of one slot and the image AUROC."""
    return pd.DataFrame({name: {"non-zero weights per z_i": r.extras["memory"]["mean_nonzero_weights"],
                                "slots used (share > 1e-4)": r.extras["memory"]["slots_used"],
                                "largest slot share": max(r.extras["memory"]["train_usage"]),
                                "image AUROC": r.metrics["image_auroc"]} for name, r in records.items()})


def access_frame(stats: pd.DataFrame) -> pd.DataFrame:
    """:func:`memory_access_table` as one row per addressing with its non-zero weights per latent vector
    (the verdict's frame)."""
    return pd.DataFrame({"addressing": list(stats.columns),
                         "non-zero weights per latent vector": stats.loc["non-zero weights per z_i"].values})


def threshold_runs(records: Iterable[Record]) -> pd.DataFrame:
    """Fig. 9: one row per run: ``delta2``, ``seed``, image and pixel AUROC and the last epoch's trust-region
    split (pulled, pushed, ignored), mean δ₁ and mean nearest-slot distance."""
    rows = []
    for r in records:
        h = r.extras["history"]
        rows.append({"delta2": r.config["params"]["delta2"], "seed": r.config["seed"],
                     "image_auroc": r.metrics["image_auroc"], "pixel_auroc": r.metrics["pixel_auroc"],
                     "pulled": h["tr_pull"][-1], "pushed": h["tr_push"][-1], "ignored": h["tr_ignore"][-1],
                     "mean delta1": h["delta1_mean"][-1], "mean nearest distance": h["dist_nearest_mean"][-1]})
    return pd.DataFrame(rows)


def threshold_table(runs: pd.DataFrame) -> pd.DataFrame:
    """:func:`threshold_runs` averaged over seeds, one row per ``delta2``."""
    return runs.groupby("delta2").mean(numeric_only=True).drop(columns="seed")


def downsampling_frame(records: list[Record], size: int) -> pd.DataFrame:
    """Sec. 3.7's runs: the runner's frame with ``down-samplings`` (the config's ``n_down``) and the
    ``latent grid`` it gives at image ``size``."""
    df = frame(records)
    df["down-samplings"] = [r.config["params"]["n_down"] for r in records]
    df["latent grid"] = [f"{size // 2 ** n}x{size // 2 ** n}" for n in df["down-samplings"]]
    return df


def downsampling_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean image and pixel AUROC per category (rows) and number of down-samplings (columns) of
    :func:`downsampling_frame`."""
    return df.pivot_table(index=["category"], columns=["down-samplings", "latent grid"],
                          values=["image_auroc", "pixel_auroc"], aggfunc="mean")


def downsampling_claim(df: pd.DataFrame, settings) -> tuple[pd.DataFrame, str]:
    """The rows of :func:`downsampling_frame` on :data:`FINE_CATEGORIES` (all rows when none is among them)
    and the claim compared on them, ``settings`` the two numbers of down-samplings."""
    fine = df[df["category"].isin(FINE_CATEGORIES)]
    where = ", ".join(sorted(fine["data"].unique())) if len(fine) else \
        "every category of the page (none of the four is among them)"
    return fine if len(fine) else df, (f"fewer down-samplings (smaller patches) work better on "
                                       f"{', '.join(FINE_CATEGORIES)} (Sec. 3.7); ours: {min(settings)} against "
                                       f"{max(settings)} on " + where)


def pooled_frame(records: Iterable[Record]) -> pd.DataFrame:
    """Table 1's rows: one per record and pooling (TrustMAE max and mean, MemAE max), ``method``,
    ``category`` (``dataset:category``), ``seed``, the record's ``key`` and the ``image_auroc`` of that pooled score."""
    rows = []
    for r in records:
        name = LABELS[r.config["method"]]
        for pooling in ("max", "mean") if r.config["method"] == "trustmae" else ("max",):
            rows.append({"method": f"{name} ({pooling})" if r.config["method"] == "trustmae" else name,
                         "category": f"{r.config['dataset']}:{r.config['category']}", "seed": r.config["seed"],
                         "key": r.key,
                         "image_auroc": metrics.image_auroc(r.labels, r.extras["scores_by_pooling"][pooling])})
    return pd.DataFrame(rows)


def category_table(df: pd.DataFrame, index: str, columns: str, value: str) -> pd.DataFrame:
    """Mean ``value`` per ``index`` (rows) and ``columns``, with a first ``mean`` column over the columns."""
    table = df.pivot_table(index=index, columns=columns, values=value, aggfunc="mean")
    table.insert(0, "mean", table.mean(axis=1))
    return table


def mvtec_comparison(ours: pd.Series, paper: pd.Series) -> pd.DataFrame:
    """Ours beside the paper's value on the real MVTec AD categories of both (``ours`` indexed by
    ``mvtec:<category>``, ``paper`` by ``<category>``), with ``Δ`` = ours − paper; empty when none is shared."""
    common = [c for c in paper.index if f"mvtec:{c}" in ours.index and c != "mean"]
    if not common:
        return pd.DataFrame()
    cmp = pd.DataFrame({f"ours {ours.name}": ours[[f"mvtec:{c}" for c in common]].values,
                        f"paper {ours.name}": paper[common].values}, index=common)
    cmp["Δ"] = cmp.iloc[:, 0] - cmp.iloc[:, 1]
    return cmp.rename_axis("MVTec AD category")


def clean_training_text(data: Iterable[str], seeds: Iterable, metric: str, means: pd.Series) -> str:
    """One line: the data and seeds of a noise-free table and the mean ``metric`` per method (``means``,
    indexed by the method's display name)."""
    return (f"Noise-free training on {', '.join(sorted(set(data)))} (seeds {', '.join(map(str, sorted(set(seeds))))}). "
            f"Mean {metric}: " + ", ".join(f"{m} {v:.3f}" for m, v in means.items()) + ".")


def pixel_frame(records: Iterable[Record]) -> pd.DataFrame:
    """Table 2's runs: :func:`model_frame` with AE-MSE named AE-L2, as the paper's Table 2 does."""
    return model_frame(records, {**LABELS, "ae_l2": "AE-L2"})

