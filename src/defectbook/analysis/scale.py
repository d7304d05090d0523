"""At larger scale: each paper's central claims measured on a ladder of settings, from the ``cpu``
profile upwards, and the declared rule that reads the effect's course over the ladder.

A :class:`Claim` names the effect (a paired difference on the same test images: image AUROC, pixel
AUROC, or TrustMAE's difference of drops), its data (real first: MTD, ELPV) and its :class:`Rung` s:
config changes laid over the ``cpu`` profile, one factor or a declared path of factors at a time,
each with its estimated wall time on two cores (``est_min``, from the measured costs in ``basis``).
Rung ``r0`` is the ``cpu`` setting itself, so its records are the book's own. ``next_rung`` is the
rung after the last, not run on two cores: the pages quote its cost.

:func:`run_rung` runs a rung's experiments and computes its effects; ``benchmarks/scale_ladder.py``
runs it rung by rung into a results bundle (:mod:`defectbook.pipeline.bundle`) and
:func:`curve_frame` / :func:`claim_reading` turn the bundle into the pages' curves and readings by
:data:`READING_RULE`, which was fixed before any rung ran.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Iterable

import numpy as np
import pandas as pd

from .. import DefectbookError
from ..components.backbones import resolve_weight_file
from ..config import data_label
from ..evaluation import metrics
from ..evaluation.stats import direction_word, method_differences
from ..pipeline import bundle, spec
from ..pipeline import run as experiment
from ..pipeline.bundle import BundledRung
from ..pipeline.keys import key_of
from ..pipeline.store import Record, Store
from . import differnet, ndpnet, trustmae


@dataclass(frozen=True)
class Rung:
    """One rung: ``changes`` (method -> params laid over the profile's), ``transform`` (every method's
    image transform, None: the profile's), ``split`` (caps on the real training and test sets, None: the
    profile's), the estimated wall time ``est_min`` on two cores and how it was estimated (``basis``), and for a
    rung meant for a GPU window its estimated minutes on one GPU (``gpu_est_min``, a guess from the step counts
    until a window has measured it)."""

    id: str
    label: str
    changes: dict = field(default_factory=dict)
    transform: dict | None = None
    split: dict | None = None
    est_min: float = 0.0
    basis: str = ""
    gpu_est_min: float | None = None


@dataclass(frozen=True)
class Claim:
    """One central claim of a paper (see the module docstring). ``kind``: ``image`` (image AUROC of ``a``
    minus each of ``b``, :func:`~defectbook.evaluation.stats.method_differences`), ``pixel`` (pixel AUROC,
    :func:`~defectbook.evaluation.metrics.pixel_auroc_difference` on the whole test set's maps), ``drop``
    (:func:`defectbook.analysis.trustmae.drop_effects` between ``levels``), ``ndp_ablation`` (NDP-Net's
    full model minus each Table VI variant in pixel AUROC) or ``differnet_ablation`` (Table 3's
    configuration ``a`` minus ``b`` in image AUROC). ``paper_sign``: +1 when the paper has ``a`` above ``b``
    (-1: below, e.g. a smaller drop)."""

    id: str
    paper: str
    chapter: str
    title: str
    kind: str
    a: str
    b: tuple
    data: tuple
    rungs: tuple
    next_rung: Rung
    paper_sign: int = 1
    levels: tuple | None = None
    paper_table: str | None = None
    metric: str = "image AUROC"
    note: str = ""

    def rung(self, rung_id: str) -> Rung:
        for r in self.rungs:
            if r.id == rung_id:
                return r
        if rung_id == self.next_rung.id:
            return self.next_rung
        raise DefectbookError(f"claim {self.id} has no rung {rung_id!r}; known: "
                              f"{', '.join([r.id for r in self.rungs] + [self.next_rung.id])}")


#: The reading rule, fixed before any rung ran; the pages print it.
FLAT = 0.05
READING_RULE = (
    "Each curve is the effect (a paired difference on the same test images, signed so that the paper's "
    "direction is positive) at each rung that has run, with its 95 % interval. With fewer than three rungs "
    "the reading is **undecided**. Otherwise, let the change be the effect at the last rung minus the effect "
    "at the first, with half-width sqrt(h_first^2 + h_last^2) (h: half the width of a rung's interval), and "
    "the slope the least-squares slope of the effect over the rung index. **Moves toward the paper**: the "
    "change's interval lies above 0 and the slope is positive. **Moves away**: the change's interval lies "
    f"below 0 and the slope is negative. **Flat**: the change's interval lies within +-{FLAT:g} (AUROC). "
    "Otherwise **undecided**. A claim with several curves (baselines, data sets) reads as its curves do "
    "when they all read alike, else undecided. A rung whose records are stale or fail their checks is "
    "left out of the reading and shown as stale.")

READINGS = ("moves toward the paper", "moves away", "flat", "undecided")

_T_CPU = ("trustmae_noise_power.md, cpu, 1 thread: fit 84 s (TrustMAE), 24 s (MemAE), 13 s (AE-MSE) per MTD "
          "record, ELPV alike")
_NPAD = "cpu build records (2 cores): MTD N-pad 317 s, PaDiM 125 s, PatchCore 692 s; ELPV mono 237, 35, 253 s"
_DIFF = ("cpu build records (2 cores): MTD DifferNet fit 1139 s (features 585 s, flow 554 s), predict 988 s "
         "(features 935 s); 1-NN and OC-SVM 4 s and 39 s on cached features")
_NDP = ("NDP-Net at cpu on MTD (100 training images, 10 + 10 epochs): fit 1648 s measured at a load average of ~10 "
        "on 2 shared cores, where TrustMAE's fits ran 4.5x slower than unloaded; ndpnet.yaml: five trainings in "
        "25 min unloaded; taken as 6 min per training")

_GAN = {"lambda_gan": 1.0, "lambda_feat": 10.0}
_T_RATIO = ("3-epoch timing runs of TrustMAE on MTD (40 % noise, 2 shared cores): fit 36 s (cpu setting), 40 s (GAN), "
            "60 s (+ GAN, width 16), 100 s (+ GAN, width 32), i.e. x1.12, x1.68, x2.78 of the cpu setting's 84 s fit")
_TRUST_RUNGS = (
    Rung("r0", "cpu setting (64 px, width 8, no GAN)", est_min=8, basis=_T_CPU + "; 2 data sets x 2 levels"),
    Rung("r1", "+ GAN loss (hinge 1, GAN feature 10)", {"trustmae": _GAN}, est_min=7,
         basis=_T_RATIO + "; TrustMAE only (baselines reused): 4 fits x 94 s"),
    Rung("r2", "+ GAN, width 32 (the paper's)", {"trustmae": _GAN | {"width": 32}}, est_min=16,
         basis=_T_RATIO + "; 4 fits x 233 s"),
)
_TRUST_NEXT = Rung("r3", "paper: 256 px, width 32, Z 512, VGG-19 loss, 100 epochs", {"trustmae": _GAN | {
    "width": 32, "latent": 512, "n_down": 5, "epochs": 100, "lr": 0.0001, "feature_net": "vgg19"}},
    transform={"resize": 256, "crop": None}, est_min=2400,
    basis="16x the pixels and 3x the epochs of r2 on 2 cores", gpu_est_min=4)

_NDP_RUNGS = (
    Rung("r0", "cpu setting (64 px, 10 + 10 epochs)", est_min=9, basis=_NDP + "; A 6 min, the baselines 3 min"),
    Rung("r1", "training x2 (20 + 20 epochs)", {"ndpnet": {"epochs": 20, "epochs2": 20}}, est_min=12,
         basis=_NDP + "; NDP-Net only (the baselines reused)"),
    Rung("r2", "training x3 (30 + 30 epochs)", {"ndpnet": {"epochs": 30, "epochs2": 30}}, est_min=18,
         basis=_NDP + "; NDP-Net only"),
)
_NDP_NEXT = Rung("r3", "paper: 256 px, widths 32-256, 400 + 200 epochs, VGG-16 perception",
                 {"ndpnet": {"epochs": 400, "epochs2": 200, "widths": [32, 64, 128, 256, 256], "seg_width": 64,
                             "ffm_channels": 64, "lr": 0.0001, "perceptual": "vgg16"}},
                 transform={"resize": 256, "crop": None}, est_min=6000,
                 basis="20x r2's steps at 16x the pixels and wider layers: days on 2 cores",
                 gpu_est_min=8)
# Table VI's three trainings (A, B, C) on a capped MTD split: the cpu build runs Table VI on synthetic wood,
# so no record of its is reused, and three trainings per rung on the whole split would not fit 30 min
_ABL_NDP_CAP = {"max_train": 30, "max_test": 120}
_NDP_ABL_RUNGS = (
    Rung("r0", "cpu setting (capped MTD: 30 train, 120 test)", split=_ABL_NDP_CAP, est_min=6,
         basis=_NDP + "; 3 trainings of 2 min (30 images)"),
    Rung("r1", "capped, training x2 (20 + 20 epochs)", {"ndpnet": {"epochs": 20, "epochs2": 20}},
         split=_ABL_NDP_CAP, est_min=12, basis="3 trainings of 4 min"),
    Rung("r2", "capped, training x3 (30 + 30 epochs)", {"ndpnet": {"epochs": 30, "epochs2": 30}},
         split=_ABL_NDP_CAP, est_min=18, basis="3 trainings of 6 min"),
)

_DIFF_CAP = {"max_train": 150, "max_test": 150}
_DIFF_RUNGS = (
    Rung("r0", "cpu setting (whole MTD split, 160 px, 40 epochs)", est_min=36,
         basis=_DIFF + "; 0 min when --seed-from holds a cpu build's records over the same MTD files"),
    Rung("r1", "cpu setting on a capped split (150 train, 150 test)", split=_DIFF_CAP, est_min=8,
         basis="a quarter of r0's feature extractions (6 min) and a fifth of its flow training (2 min)"),
    Rung("r2", "capped, 120 epochs", {"differnet": {"epochs": 120}}, split=_DIFF_CAP, est_min=6,
         basis="features cached by r1; flow 3x r1's"),
    Rung("r3", "capped, 192 epochs (the paper's)", {"differnet": {"epochs": 192}}, split=_DIFF_CAP, est_min=9,
         basis="flow 4.8x r1's"),
)
_DIFF_NEXT = Rung("r4", "paper: 448 px, 64 test transforms, width 2048, 192 epochs, whole split",
                  {"differnet": {"epochs": 192, "width": 2048, "test_transforms": 64},
                   "knn": {"test_transforms": 64}, "ocsvm": {"test_transforms": 64}},
                  transform={"resize": 448, "crop": None}, est_min=1800,
                  basis="16x r0's feature cost (8x pixels, 2x test transforms) on 2 cores",
                  gpu_est_min=5)

_ABL_CAP = {"max_train": 60, "max_test": 120}
_DIFF_ABL_RUNGS = (
    Rung("r0", "cpu setting (capped MTD: 60 train, 120 test)", split=_ABL_CAP, est_min=5,
         basis=_DIFF + "; G: 8 training and 16 test transforms, A: 1 and 1: a tenth of r0's feature extractions"),
    Rung("r1", "capped, 120 epochs", {"differnet": {"epochs": 120}}, split=_ABL_CAP, est_min=3,
         basis="features cached by r0; 480 training vectors"),
    Rung("r2", "capped, 192 epochs", {"differnet": {"epochs": 192}}, split=_ABL_CAP, est_min=4,
         basis="features cached by r0"),
)

_NPAD_CAP = {"max_train": 120, "max_test": 120}
_P224 = {"resize": 256, "crop": 224}
_NPAD_RUNGS = (
    Rung("r0", "cpu setting (112 px, whole splits)", est_min=28,
         basis=_NPAD + "; ELPV's 9 min are reused with --seed-from a cpu build's store over the same files"),
    Rung("r1", "cpu setting on capped splits (120 train, 120 test)", split=_NPAD_CAP, est_min=5,
         basis="a sixth of r0's images"),
    Rung("r2", "224 px (resize 256, crop 224), capped", transform=_P224, split=_NPAD_CAP, est_min=20,
         basis="4x r1's pixels; PatchCore's coreset 16x"),
)
_WRN = {"backbone": "wide_resnet50_2", "batch_size": 32}
_NPAD_NEXT = Rung("r3", "paper: wide_resnet50_2, d 550, 224 px, whole splits",
                  {"npad": _WRN | {"d": 550, "train_radius": 3, "infer_radius": 2, "shift": 4, "kmeans_iters": 10},
                   "padim": _WRN | {"d": 550}, "patchcore": _WRN}, transform=_P224, est_min=600,
                  basis="wide_resnet50_2 ~ 20x lite0's cost per image on 2 cores; needs its ImageNet weights "
                        "(not on this machine)", gpu_est_min=3)

_TRUST_DATA = (("mtd", None), ("elpv", "mono"))

#: The claims, by the ids the claims ledger uses.
CLAIMS: dict[str, Claim] = {c.id: c for c in (
    Claim("trustmae.noise_robustness", "trustmae", "trustmae",
          "TrustMAE loses less image AUROC than MemAE and AE-MSE from 0 to 40 % training noise",
          "drop", "trustmae", ("memae", "ae_l2"), _TRUST_DATA, _TRUST_RUNGS, _TRUST_NEXT, paper_sign=-1,
          levels=(0.0, 0.4), paper_table="trustmae_supp_table4", metric="D (difference of drops, image AUROC)",
          note="baselines stay at the cpu setting (their records are reused); D pooled over MTD and ELPV mono"),
    Claim("trustmae.clean_auroc_vs_memae", "trustmae", "trustmae",
          "TrustMAE above MemAE in image AUROC with clean training", "image", "trustmae", ("memae",),
          _TRUST_DATA, _TRUST_RUNGS, _TRUST_NEXT, levels=(0.0,), paper_table="trustmae_table1",
          note="the noise-0 runs of the noise-robustness ladder (clean training, the noisy protocol's test set)"),
    Claim("ndpnet.pixel_auroc_vs_reconstruction", "ndpnet", "ndpnet",
          "NDP-Net above the reconstruction methods in pixel AUROC", "pixel", "ndpnet",
          ("trustmae", "memae", "ae_l2", "ae_ssim"), (("mtd", None),), _NDP_RUNGS, _NDP_NEXT,
          paper_table="ndpnet_table3_pixel_auroc", metric="pixel AUROC",
          note="the baselines keep their cpu settings, at the rung's image size"),
    Claim("ndpnet.table6_switches", "ndpnet", "ndpnet",
          "Every part of NDP-Net helps: the full model above each Table VI variant in pixel AUROC", "ndp_ablation",
          ndpnet.FULL, tuple(v for v in ndpnet.ABLATIONS if v != ndpnet.FULL), (("mtd", None),), _NDP_ABL_RUNGS,
          _NDP_NEXT, paper_table="ndpnet_table6_ablation_deltas", metric="pixel AUROC",
          note="on a capped MTD split at every rung (the cpu build runs Table VI on synthetic wood)"),
    Claim("differnet.flow_vs_knn_ocsvm_mtd", "differnet", "differnet",
          "DifferNet's flow above 1-NN and OC-SVM on the same features (MTD)", "image", "differnet",
          ("knn", "ocsvm"), (("mtd", None),), _DIFF_RUNGS, _DIFF_NEXT, paper_table="differnet_table2_mtd",
          note="1-NN and OC-SVM depend on the features only: reused across the flow's rungs"),
    Claim("differnet.table3_ablation", "differnet", "differnet",
          "Table 3: the full configuration G (multi-scale, training and test transforms) above A", "differnet_ablation",
          "G", ("A",), (("mtd", None),), _DIFF_ABL_RUNGS, _DIFF_NEXT, paper_table="differnet_table3_ablation",
          note="on a capped MTD split at every rung (the cpu build runs Table 3 on synthetic categories)"),
    Claim("npad.vs_padim_patchcore_real", "npad", "npad",
          "N-pad above PaDiM and PatchCore on real data (MTD, ELPV)", "image", "npad", ("padim", "patchcore"),
          (("mtd", None), ("elpv", "mono")), _NPAD_RUNGS, _NPAD_NEXT, paper_table="npad_appA_mtd",
          note="backbone efficientnet_lite0 at every rung run here (the paper's wide_resnet50_2 needs weights)"),
)}


def claims_of(paper: str) -> list[Claim]:
    return [c for c in CLAIMS.values() if c.paper == paper]


def claim(claim_id: str) -> Claim:
    if claim_id not in CLAIMS:
        raise DefectbookError(f"unknown claim {claim_id!r}; known: {', '.join(CLAIMS)}")
    return CLAIMS[claim_id]


# --- configs of a rung -----------------------------------------------------------------------------

def rung_chapter(c: Claim, rung: Rung, profile: str = "cpu", data_root=None, tiny: bool = False,
                 device: str | None = None) -> spec.Chapter:
    """The claim's chapter with the rung laid over ``profile``: ``rung.changes`` on every chapter's params of
    those methods (a compared method takes its own chapter's), ``rung.transform`` on every transform and
    ``rung.split`` on the caps of the claim's data sets. ``tiny`` (a ladder of minutes, for tests): the
    rung's changes are replaced by ``epochs = 1 + rung index`` for the methods that train. ``device``: every
    config's device (None: the profile's)."""
    S = spec.chapter(c.chapter, profile, data_root=data_root)
    if device is not None:
        S.P["device"] = device
    index = [r.id for r in c.rungs + (c.next_rung,)].index(rung.id)
    for name in spec.chapters():
        sec = S.P[name]
        for m, params in sec["methods"].items():
            if tiny:
                params.update({k: 1 + index for k in ("epochs",) if k in params})
            else:
                params.update(rung.changes.get(m, {}))
        if rung.transform and not tiny:
            sec["transform"] = dict(rung.transform)
            sec["method_transforms"] = {m: dict(rung.transform) for m in sec.get("method_transforms", {})}
            for d in sec.get("datasets", {}).values():
                if "transform" in d:
                    d["transform"] = dict(rung.transform)
        if rung.split and not tiny:
            for d, _ in c.data:
                entry = sec.setdefault("datasets", {}).setdefault(d, {})
                entry["split"] = {**entry.get("split", {}), **rung.split}
    S.section = S.P[c.chapter]
    return S


def _split(S: spec.Chapter, level: float | None) -> dict:
    return S.noisy(level) if level is not None else {"kind": "clean"}


def rung_configs(c: Claim, S: spec.Chapter) -> list[dict]:
    """The experiment configs of one rung (``S``: :func:`rung_chapter`); for ``ndp_ablation``, the
    trained models A, B and C (D, E and F are A's other maps)."""
    if c.kind == "ndp_ablation":
        trained = {n: sw for n, sw in ndpnet.ABLATIONS.items() if "segmentation" not in sw}
        return [S.config("ndpnet", d, cat, seed=0, **sw) for d, cat in c.data for sw in trained.values()]
    if c.kind == "differnet_ablation":
        variants = _table3_variants(S)
        return [S.config("differnet", d, cat, seed=0, save_maps=0, snapshots=0, **variants[v])
                for d, cat in c.data for v in (c.a, *c.b)]
    levels = c.levels or (None,)
    same = c.kind == "pixel"      # pixel AUROCs are compared map to map: every method at the chapter's image size
    return [S.config(m, d, cat, seed=0, split=_split(S, lv), **({"transform": _transform(S, d)} if same else {}))
            for d, cat in c.data for m in (c.a, *c.b) for lv in levels]


def _transform(S: spec.Chapter, dataset: str) -> dict:
    return dict(S.section.get("datasets", {}).get(dataset, {}).get("transform") or S.section["transform"])


def _table3_variants(S: spec.Chapter) -> dict:
    return differnet.ablation_variants(S.section["methods"]["differnet"]["scales"],
                                       S.grids["ablation_test_transforms"])


# --- effects of a rung -----------------------------------------------------------------------------

def _effect(c: Claim, a: str, b: str, data: str, d: dict, n: int) -> dict:
    return {"comparison": f"{a} − {b}", "a": a, "b": b, "data": data, "metric": c.metric,
            "difference": float(d["difference"]), "low": float(d["low"]), "high": float(d["high"]), "n": int(n),
            "word": direction_word(d, c.paper_sign)}


def _maps(config: dict) -> tuple[np.ndarray, np.ndarray]:
    """Anomaly maps of a config's whole test set (its fitted model, reused where kept) and the masks."""
    det, prep = experiment.fitted(config)
    pred = det.predict(prep.test)
    if pred.maps is None or prep.masks is None:
        raise DefectbookError(f"{config['method']} on {data_label(config)}: no maps or no masks for a pixel AUROC")
    return np.asarray(pred.maps), prep.masks.numpy()


def run_rung(c: Claim, S: spec.Chapter, n_boot: int = 1000, store=None) -> tuple[list[Record], list[dict]]:
    """Run (or reuse) a rung's experiments and compute its effects: ``(records, effects)``, one effect per
    comparison and data set (``drop``: per baseline, pooled over the data sets), each
    ``{comparison, a, b, data, metric, difference, low, high, n, word}``."""
    configs = rung_configs(c, S)
    records = experiment.run_many(configs, store=store, desc=c.id)
    effects = []
    if c.kind == "drop":
        for b, e in trustmae.drop_effects(records, (c.a, *c.b), c.levels, n_boot=n_boot).items():
            effects.append(_effect(c, c.a, b, "+".join(data_label({"dataset": d, "category": k}) for d, k in c.data),
                                   e, e["n"]))
    elif c.kind == "image":
        diffs = method_differences(records, [(c.a, b) for b in c.b], n_boot=n_boot)
        for row in diffs.to_dict("records"):
            effects.append(_effect(c, row["a"], row["b"], row["data"], row, row["n_test"]))
    elif c.kind == "differnet_ablation":      # each record under its variant's name, so the pairs are variants
        names = [v for _ in c.data for v in (c.a, *c.b)]
        tagged = [replace(r, config={**r.config, "method": v}) for r, v in zip(records, names)]
        for row in method_differences(tagged, [(c.a, b) for b in c.b], n_boot=n_boot).to_dict("records"):
            effects.append(_effect(c, row["a"], row["b"], row["data"], row, row["n_test"]))
    elif c.kind == "pixel":
        by = {(r.config["method"], data_label(r.config)): cfg for r, cfg in zip(records, configs)}
        for d, cat in c.data:
            label = data_label({"dataset": d, "category": cat})
            ma, masks = _maps(by[c.a, label])
            for b in c.b:
                mb, _ = _maps(by[b, label])
                e = metrics.pixel_auroc_difference(masks, ma, mb, n_boot=max(n_boot // 5, 50))
                effects.append(_effect(c, c.a, b, label, e, len(masks)))
    elif c.kind == "ndp_ablation":
        for d, cat in c.data:
            recs, maps, prep = ndpnet.ablation_runs(S, d, cat, 0)
            masks = prep.masks.numpy()
            for v in c.b:
                e = metrics.pixel_auroc_difference(masks, maps[c.a], maps[v], n_boot=max(n_boot // 5, 50))
                effects.append(_effect(c, c.a, v, data_label({"dataset": d, "category": cat}), e, len(masks)))
    else:
        raise DefectbookError(f"claim {c.id}: unknown kind {c.kind!r}")
    return records, effects


# --- the paper's values ----------------------------------------------------------------------------

def paper_effects(c: Claim, table: pd.DataFrame | None) -> dict[str, float]:
    """The paper's value of each comparison (``"a − b"`` -> effect, fractions of AUROC) from its transcribed
    table (:mod:`defectbook.book.paper_values`, loaded with ``scale=0.01``); empty where it gives none."""
    if table is None or not len(table):
        return {}
    if c.kind == "drop":    # supp. Table 4: the drop of the mean image AUC from the lowest printed level to 40 %
        names = {"trustmae": "Ours", "memae": "MemAE", "ae_l2": "AE-MSE"}
        t = table.assign(noise=table["noise"].round(2))

        def drop(m):
            rows = t[t["method"] == names[m]].set_index("noise")["mean"]
            return float(rows.loc[rows.index.min()] - rows.loc[0.4])
        return {f"{c.a} − {b}": drop(c.a) - drop(b) for b in c.b}
    if c.id == "trustmae.clean_auroc_vs_memae":
        mean = table.set_index("method")["mean"]
        return {"trustmae − memae": float(mean["TrustMAE-noise free (mean)"] - mean["MemAE [12]"])}
    if c.kind == "pixel":
        mean = table.set_index("method")["mean"]
        names = {"ae_ssim": "AE-SSIM", "trustmae": "TrustMAE"}
        return {f"{c.a} − {b}": float(mean["NDP-Net"] - mean[names[b]]) for b in c.b if names.get(b) in mean}
    if c.kind == "ndp_ablation":
        deltas = table.set_index("variant")["delta_pixel_auroc"]
        return {f"{c.a} − {v}": float(-deltas[v]) for v in c.b if v in deltas}
    if c.kind == "differnet_ablation":
        au = table.set_index(table.columns[0])["image_auroc"]
        return {f"{c.a} − {b}": float(au[c.a] - au[b]) for b in c.b}
    if c.paper == "differnet":
        au = table.set_index("method")["image_auroc"]
        names = {"knn": "1-NN", "ocsvm": "OCSVM"}
        return {f"{c.a} − {b}": float(au["DifferNet"] - au[names[b]]) for b in c.b}
    if c.paper == "npad":
        au = table.set_index("method")["image_auroc"]
        names = {"padim": "PaDiM", "patchcore": "PatchCore"}
        return {f"{c.a} − {b}": float(au["N-pad"] - au[names[b]]) for b in c.b}
    return {}


# --- the bundle's curves and the reading -----------------------------------------------------------

def curve_frame(c: Claim, rungs: Iterable[BundledRung]) -> pd.DataFrame:
    """One row per effect of each bundled rung of ``c``: rung id, index and label, comparison, data,
    difference, low, high, n, the signed effect (``toward``: positive in the paper's direction), the
    rung's wall time, its records' own compute time (``compute_s``: data, fit and predict, wherever they were
    computed: a rung seeded with records from another store takes less wall time than that), commit, date,
    command, threads, GPU, ``tiny`` (a test rung) and ``stale`` (a record of the rung is stale, failed or
    missing)."""
    order = {r.id: i for i, r in enumerate(c.rungs + (c.next_rung,))}
    rows = []
    for br in rungs:
        if br.claim != c.id or br.rung not in order:
            continue
        m = br.manifest
        compute = sum(float((b.record.timings or {}).get(k) or 0.0) for b in br.records if b.record is not None
                      for k in ("data_s", "fit_s", "predict_s"))
        for e in m.get("effects", []):
            rows.append({"rung": br.rung, "index": order[br.rung], "label": c.rung(br.rung).label,
                         **{k: e.get(k) for k in ("comparison", "data", "difference", "low", "high", "n")},
                         "toward": c.paper_sign * float(e["difference"]), "wall_s": m.get("wall_s"),
                         "compute_s": round(compute, 1), "commit": m.get("commit"), "date": m.get("date"),
                         "command": m.get("command"),
                         "threads": m.get("threads"), "gpu": (m.get("machine") or {}).get("gpu"),
                         "tiny": bool(m.get("tiny")), "stale": br.stale})
    cols = ["rung", "index", "label", "comparison", "data", "difference", "low", "high", "n", "toward", "wall_s",
            "compute_s", "commit", "date", "command", "threads", "gpu", "tiny", "stale"]
    return pd.DataFrame(rows, columns=cols).sort_values(["comparison", "data", "index"], kind="stable")


def reading(effects: Iterable[dict], paper_sign: int = 1, flat: float = FLAT) -> dict:
    """:data:`READING_RULE` on one curve: ``effects`` in rung order, each ``{difference, low, high}`` (NaN
    or missing ones are skipped). Returns ``{"reading", "rungs", "change", "change_low", "change_high",
    "slope"}``."""
    pts = [(float(e["difference"]), float(e["low"]), float(e["high"])) for e in effects
           if all(e.get(k) is not None and not math.isnan(float(e[k])) for k in ("difference", "low", "high"))]
    out = {"reading": "undecided", "rungs": len(pts), "change": float("nan"), "change_low": float("nan"),
           "change_high": float("nan"), "slope": float("nan")}
    if len(pts) < 3:
        return out
    s = 1 if paper_sign >= 0 else -1
    e = np.array([s * d for d, _, _ in pts])
    h = np.array([(hi - lo) / 2 for _, lo, hi in pts])
    change, half = float(e[-1] - e[0]), float(math.hypot(h[0], h[-1]))
    slope = float(np.polyfit(np.arange(len(e)), e, 1)[0])
    out |= {"change": change, "change_low": change - half, "change_high": change + half, "slope": slope}
    if change - half > 0 and slope > 0:
        out["reading"] = "moves toward the paper"
    elif change + half < 0 and slope < 0:
        out["reading"] = "moves away"
    elif abs(change) + half <= flat:
        out["reading"] = "flat"
    return out


def readings(c: Claim, curves: pd.DataFrame) -> pd.DataFrame:
    """:func:`reading` of each curve (comparison, data) of :func:`curve_frame`, stale rungs left out."""
    rows = []
    live = curves[~curves["stale"].astype(bool)] if len(curves) else curves
    for (comp, data), g in live.groupby(["comparison", "data"], sort=True):
        r = reading(g.sort_values("index").to_dict("records"), c.paper_sign)
        rows.append({"comparison": comp, "data": data, **r})
    return pd.DataFrame(rows, columns=["comparison", "data", "reading", "rungs", "change", "change_low",
                                       "change_high", "slope"])


def claim_reading(table: pd.DataFrame) -> str:
    """The claim's reading from its curves' (:func:`readings`): theirs when they all agree, else undecided."""
    words = set(table["reading"]) if len(table) else set()
    return words.pop() if len(words) == 1 else "undecided"


def trends(rungs: Iterable[BundledRung]) -> dict[str, str]:
    """The claims ledger's "trend over scale" of every laddered claim, from the bundles' ``rungs``: its reading
    (:func:`claim_reading`, stale rungs left out) and how many of its declared rungs it rests on."""
    rungs = list(rungs)
    out = {}
    for c in CLAIMS.values():
        curves = curve_frame(c, rungs)
        live = curves[~curves["stale"].astype(bool)] if len(curves) else curves
        n = int(live["rung"].nunique()) if len(live) else 0
        word = claim_reading(readings(c, curves)) if n else "undecided"
        out[c.id] = f"{word} ({n} of {len(c.rungs)} rungs run)"
    return out


def ladder_table(c: Claim, curves: pd.DataFrame | None = None) -> pd.DataFrame:
    """The declared ladder: one row per rung (and the next rung): what it changes, its estimated minutes and,
    where bundled, its measured ones: the rung's wall time and its records' own compute time (data, fit and
    predict; more than the wall time where records were copied in from another store, less where bootstraps
    and feature extraction outside the records took longer), and whether it has run."""
    firsts = None if curves is None or not len(curves) else curves.groupby("rung")[["wall_s", "compute_s"]].first()
    ran = {} if firsts is None else firsts["wall_s"].to_dict()
    computed = {} if firsts is None else firsts["compute_s"].to_dict()
    rows = []
    for r in c.rungs + (c.next_rung,):
        changes = "; ".join(f"{m}: " + ", ".join(f"{k}={v}" for k, v in p.items()) for m, p in r.changes.items())
        extra = [f"transform {r.transform}"] if r.transform else []
        extra += [f"caps {r.split}"] if r.split else []
        rows.append({"rung": r.id, "setting": r.label, "changes": "; ".join([changes] + extra if changes else extra)
                     or "none (the cpu profile)", "estimated min": r.est_min,
                     "wall min": round(ran[r.id] / 60, 1) if r.id in ran and ran[r.id] is not None else None,
                     "records' compute min": round(computed[r.id] / 60, 1) if computed.get(r.id) is not None
                     else None,
                     "status": "ran" if r.id in ran else "next (not run on 2 cores)" if r is c.next_rung
                     else "not run yet"})
    return pd.DataFrame(rows)


def next_rung_text(c: Claim) -> str:
    """What the next rung would cost: its setting, its estimated hours on two cores and minutes on one GPU."""
    r = c.next_rung
    gpu = f", about {r.gpu_est_min:g} min on one GPU (a guess from its step counts)" if r.gpu_est_min else ""
    return (f"The next rung ({r.id}: {r.label}) would take about {r.est_min / 60:.0f} h on two cores "
            f"({r.basis}){gpu}; `benchmarks/gpu_window.py` runs it on one GPU.")


# --- the ladder ------------------------------------------------------------------------------------

def _weights_present(name: str) -> bool:
    try:
        resolve_weight_file(name)
        return True
    except DefectbookError:
        return False


def weights_allow(rung: Rung) -> Rung:
    """``rung`` without the changes whose ImageNet weights are absent here (a backbone other than the
    bundled efficientnet_lite0: the method keeps its own; TrustMAE's VGG-19 feature loss: off), the label
    saying what was left out."""
    changes, left = {}, []
    for m, p in rung.changes.items():
        p = dict(p)
        if p.get("backbone") and not _weights_present(p["backbone"]):
            left.append(f"{m} {p.pop('backbone')}")
            p.pop("d", None)
        if p.get("feature_net") and not _weights_present(p["feature_net"]):
            left.append(f"{m} {p['feature_net']} loss")
            p["feature_net"] = None
        changes[m] = p
    if not left:
        return rung
    return replace(rung, changes=changes, label=f"{rung.label} (without {', '.join(left)}: no weights here)")


def run_ladder(claim_ids: Iterable[str], rung_ids: Iterable[str] | None = None, root=None, profile: str = "cpu",
               data_root=None, tiny: bool = False, n_boot: int = 1000, seed_from=None, budget_s: float | None = None,
               device: str | None = None, command: str = "", say=print, rung_of=None,
               started: float | None = None) -> list[dict]:
    """Run the rungs of the claims into the bundle at ``root`` (default ``bundles/scale``), resumably: a rung
    the bundle holds is skipped; a finished rung's records and effects go into the bundle at once.
    ``rung_ids``: the rungs to run (None: every declared rung of each claim; a named rung a claim does not
    declare is skipped). ``seed_from``: another store whose intact records of a rung's configs are copied
    in first. ``budget_s``: no rung starts after this many seconds (since ``started``, a ``time.perf_counter()``
    reading; None: this call's start). ``rung_of``: ``(claim, rung) -> rung``
    (e.g. :func:`weights_allow`). ``command``: what the manifest records as the command. Returns one
    ``{claim, rung, status, wall_s}`` per rung considered."""
    root = bundle.default_root() if root is None else root
    store, t_start, done = Store(), time.perf_counter() if started is None else started, []
    for cid in claim_ids:
        c = claim(cid)
        declared = [r.id for r in c.rungs + (c.next_rung,)]
        wanted = [r.id for r in c.rungs] if rung_ids is None else [r for r in rung_ids if r in declared]
        for rid in wanted:
            rung = c.rung(rid) if rung_of is None else rung_of(c, c.rung(rid))
            if bundle.finished(root, c.id, rid):
                say(f"{c.id} {rid}: in the bundle already, skipped")
                done.append({"claim": c.id, "rung": rid, "status": "skipped", "wall_s": 0.0})
                continue
            spent = time.perf_counter() - t_start
            if budget_s is not None and (spent > budget_s or (device not in (None, "cpu") and rung.gpu_est_min
                                                               and spent + 60 * rung.gpu_est_min > budget_s)):
                say(f"{c.id} {rid}: not started (the time budget of {budget_s:.0f} s is spent or would be exceeded)")
                done.append({"claim": c.id, "rung": rid, "status": "not started", "wall_s": 0.0})
                continue
            S = rung_chapter(c, rung, profile, data_root, tiny, device)
            if seed_from:
                n = bundle.seed_store([key_of(x) for x in rung_configs(c, S)], seed_from, store)
                say(f"{c.id} {rid}: {n} records copied from {seed_from}")
            say(f"{c.id} {rid} ({rung.label}): estimated {rung.est_min:g} min on 2 cores ...")
            t0 = time.perf_counter()
            records, effects = run_rung(c, S, n_boot, store)
            wall = time.perf_counter() - t0
            bundle.write_rung(root, c.id, rid, records, effects, command or f"scale ladder {c.id} {rid}", wall,
                              {"label": rung.label, "est_min": rung.est_min, "profile": profile, "tiny": tiny})
            say(f"{c.id} {rid}: done in {wall / 60:.1f} min; " + "; ".join(
                f"{e['comparison']} on {e['data']}: {e['difference']:+.3f} [{e['low']:+.3f}, {e['high']:+.3f}]"
                for e in effects))
            done.append({"claim": c.id, "rung": rid, "status": "ran", "wall_s": wall})
    return done
