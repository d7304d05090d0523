"""Calibration of the synthetic dataset on a criterion no compared method defines (a script, not a test).

    python benchmarks/calibrate_synthetic.py fit      # the defect amplitudes the rule gives (held-out seed 1)
    python benchmarks/calibrate_synthetic.py report   # writes benchmarks/calibrate_synthetic.md

The rule (generator version 3), method-free:

1. Every defect kind of every category gets the same *contrast ratio* ``r``: the mean absolute change a
   defect makes to its pixels (8-bit RGB, channel mean, inside its exact mask) divided by the mean, over
   the same pixels, of the per-pixel standard deviation of the category's defect-free training images
   (the normal variation a pixel shows anyway: texture, pose, lighting, noise). The knob is each kind's
   amplitude ``AMP`` (its contrast share), capped where a defect already replaces its pixels fully;
   the defect sizes (``SIZE``, shapes of the kinds) are kept and their areas reported.
2. The common ratio ``r`` is the one of a grid at which a *pixel-difference baseline* (absolute difference
   of an image to the mean defect-free training image, in units of the same per-pixel standard deviation,
   channel mean, Gaussian blur sigma 2, image score = the map's maximum) reaches a mean image AUROC over the six
   categories closest to the middle of ``TARGET = (0.6, 0.8)``: defects neither invisible to a plain pixel comparison
   nor trivially found by it.

The amplitudes are fitted on seed 1 (images the book never uses); ``report`` measures the criterion on the
book's seed-0 data for the previous generator (version 2, calibrated on PaDiM's AUROC: ``OLD_AMP``) and the
current one, checks the generator's table equals the fitted one, then runs PaDiM (the PaDiM chapter's
``d = 100`` and the N-pad chapter's ``d = 64``), N-pad, PatchCore and SPADE with their ``cpu`` profile settings on
the N-pad chapter's four categories, on both generators, with bootstrap intervals and paired differences.
Set ``OMP_NUM_THREADS=1`` and ``DEFECTBOOK_CACHE`` to a private folder to run it beside other work.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from defectbook.data import synthetic
from defectbook.data.base import seeded_rng
from defectbook.data.synthetic import CATEGORIES
from defectbook.evaluation.metrics import auroc_interval, image_auroc, pixel_auroc

TARGET = (0.6, 0.8)
RATIOS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
CAP = {"stain": 2.0}            # stain is additive; every other kind blends towards a target (at most fully)
FLOOR = 0.01
SIZE, N_TRAIN, N_GOOD, N_DEFECT = 128, 60, 20, 8          # the cpu profile's generator settings
COMPARE_CATEGORIES = ("weave", "carpet", "screw", "pill")  # the N-pad chapter's cpu categories
N_BOOT = 1000

#: Version 2's amplitudes (chosen so that PaDiM landed between 0.80 and 0.97 mean image AUROC).
OLD_AMP = {
    ("weave", "hole"): 0.55, ("weave", "scratch"): 0.35, ("weave", "stain"): 0.10,
    ("wood", "crack"): 0.30, ("wood", "scratch"): 0.18, ("wood", "stain"): 0.12,
    ("carpet", "hole"): 0.60, ("carpet", "scratch"): 0.25, ("carpet", "stain"): 0.20,
    ("screw", "missing"): 1.0, ("screw", "scratch"): 0.30, ("screw", "worn"): 0.8,
    ("washer", "hole"): 0.15, ("washer", "missing"): 1.0, ("washer", "stain"): 0.07,
    ("pill", "crack"): 0.35, ("pill", "missing"): 1.0, ("pill", "stain"): 0.25,
}


@contextlib.contextmanager
def generator(amp: dict, version: int):
    """Render with amplitude table ``amp`` under generator ``version`` (its cache key), then restore."""
    saved = synthetic.AMP, synthetic.GENERATOR_VERSION
    synthetic.AMP, synthetic.GENERATOR_VERSION = dict(amp), version
    try:
        yield
    finally:
        synthetic.AMP, synthetic.GENERATOR_VERSION = saved


# --- the method-free criterion ---------------------------------------------------------------------

def normal_stats(cat: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and per-pixel standard deviation ``[S, S, 3]`` (8-bit units) of the training images."""
    imgs = np.stack([synthetic.render_pair(cat, None, seeded_rng(seed, cat, "train", "good", i), SIZE)[1]
                     for i in range(N_TRAIN)]).astype(np.float64)
    return imgs.mean(0), imgs.std(0)


def defect_stats(cat: str, kind: str, sd: np.ndarray, seed: int, n: int = N_DEFECT) -> dict:
    """Contrast ratio and area share (medians over ``n`` test defects) and the rendered test images."""
    ratio, area, imgs, masks = [], [], [], []
    for i in range(n):
        clean, img, mask = synthetic.render_pair(cat, kind, seeded_rng(seed, cat, "test", kind, i), SIZE)
        ratio.append(synthetic.contrast_ratio(clean, img, mask, sd))
        area.append(mask.mean())
        imgs.append(img)
        masks.append(mask)
    return {"ratio": float(np.median(ratio)), "area": float(np.median(area)), "images": imgs, "masks": masks}


def baseline_maps(images, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """The pixel-difference baseline: ``|image - mean normal image|`` in units of the normal images' per-pixel
    standard deviation (at least one grey level), channel mean, blurred: ``[N, S, S]``."""
    scale = np.maximum(sd, 1.0)
    return np.stack([gaussian_filter((np.abs(np.asarray(x, np.float64) - mean) / scale).mean(-1), 2) for x in images])


def criterion(cat: str, seed: int, stats=None, n_boot: int = N_BOOT) -> dict:
    """Per category: each kind's contrast ratio and area, the baseline's image (with interval) and pixel AUROC."""
    mean, sd = stats or normal_stats(cat, seed)
    good = [synthetic.render_pair(cat, None, seeded_rng(seed, cat, "test", "good", i), SIZE)[1] for i in range(N_GOOD)]
    kinds = {k: defect_stats(cat, k, sd, seed) for k in CATEGORIES[cat]}
    imgs = good + [x for k in kinds.values() for x in k["images"]]
    masks = np.stack([np.zeros((SIZE, SIZE), bool)] * N_GOOD + [m for k in kinds.values() for m in k["masks"]])
    labels = np.r_[np.zeros(N_GOOD), np.ones(len(imgs) - N_GOOD)]
    maps = baseline_maps(imgs, mean, sd)
    score = maps.reshape(len(maps), -1).max(1)
    return {"kinds": {k: {"ratio": v["ratio"], "area": v["area"]} for k, v in kinds.items()},
            "image": auroc_interval(labels, score, n_boot=n_boot), "pixel": pixel_auroc(masks, maps)}


def fit(ratio: float, seed: int, stats: dict, start: dict, iters: int = 3) -> dict:
    """Amplitudes giving every kind the contrast ratio ``ratio`` (fixed-point on the linear amplitude)."""
    amp = dict(start)
    for _ in range(iters):
        with generator(amp, -1):
            got = {(c, k): defect_stats(c, k, stats[c][1], seed)["ratio"] for c in CATEGORIES for k in CATEGORIES[c]}
        amp = {ck: float(np.clip(a * ratio / max(got[ck], 1e-6), FLOOR, CAP.get(ck[1], 1.0))) for ck, a in amp.items()}
    return {ck: round(a, 3) for ck, a in amp.items()}


def choose(seed: int = 1, log=print) -> tuple[float, dict, list]:
    """The grid's ratio whose fitted amplitudes put the baseline's mean image AUROC nearest the band's middle."""
    stats = {c: normal_stats(c, seed) for c in CATEGORIES}
    rows, best = [], None
    for r in RATIOS:
        amp = fit(r, seed, stats, OLD_AMP)
        with generator(amp, -1):
            crit = {c: criterion(c, seed, stats[c], n_boot=20) for c in CATEGORIES}
        m = float(np.mean([v["image"]["auroc"] for v in crit.values()]))
        rows.append((r, m, {c: v["image"]["auroc"] for c, v in crit.items()}))
        log(f"ratio {r:4.2f}: baseline mean image AUROC {m:.3f}  " +
            "  ".join(f"{c} {v['image']['auroc']:.2f}" for c, v in crit.items()))
        if best is None or abs(m - np.mean(TARGET)) < abs(best[1] - np.mean(TARGET)):
            best = (r, m, amp)
    return best[0], best[2], rows


# --- the methods on the old and the new generator -------------------------------------------------

def method_configs(cat: str) -> dict:
    from defectbook.pipeline import spec

    return {"PaDiM d=100 (PaDiM chapter)": spec.make_config("cpu", "padim", "padim", "synthetic", cat),
            "PaDiM d=64 (N-pad chapter)": spec.make_config("cpu", "npad", "padim", "synthetic", cat),
            "N-pad": spec.make_config("cpu", "npad", "npad", "synthetic", cat),
            "PatchCore": spec.make_config("cpu", "npad", "patchcore", "synthetic", cat),
            "SPADE": spec.make_config("cpu", "npad", "spade", "synthetic", cat)}


def run_methods(cats, log=print, only=None) -> dict:
    """``{method: {category: (labels, image scores)}}`` with the generator now in place (``only``: those methods)."""
    from defectbook.data.prepare import _prepare_cached, prepare
    from defectbook.pipeline.models import build_detector

    _prepare_cached.cache_clear()   # its memo is keyed by config, not generator version
    out: dict = {}
    for cat in cats:
        for name, cfg in method_configs(cat).items():
            if only and name not in only:
                continue
            t0 = time.perf_counter()
            prep = prepare(cfg)
            det = build_detector(cfg).fit(prep.train)
            scores = np.asarray(det.predict(prep.test).image_scores, np.float64)
            out.setdefault(name, {})[cat] = (prep.labels, scores)
            log(
                f"  {cat:7s} {name:28s} AUROC {image_auroc(prep.labels, scores):.3f} ({time.perf_counter() - t0:.0f} s)"
            )
    return out


def auc(y: np.ndarray, s: np.ndarray) -> float:
    """Image AUROC by the Mann-Whitney rank sum (ties count half): ``roc_auc_score``, faster for the bootstrap."""
    r = rankdata(s)
    n1 = int(y.sum())
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(y) - n1)))


def mean_boot(pairs: list, other: list | None = None, seed: int = 0) -> dict:
    """Mean image AUROC over categories (minus ``other``'s, paired) with a bootstrap interval that
    resamples test images within each class of each category (the same resamples for both methods)."""
    rng = np.random.default_rng(seed)
    y0, s0 = pairs[0]
    assert abs(auc(y0, s0) - roc_auc_score(y0, s0)) < 1e-12

    def value(idx_list):
        v = [auc(y[i], s[i]) for (y, s), i in zip(pairs, idx_list)]
        if other is not None:
            v = [a - auc(y[i], s[i]) for a, (y, s), i in zip(v, other, idx_list)]
        return float(np.mean(v))

    full = value([np.arange(len(y)) for y, _ in pairs])
    boot = []
    for _ in range(N_BOOT):
        idx = []
        for y, _ in pairs:
            pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
            idx.append(np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        boot.append(value(idx))
    return {"value": full, "low": float(np.quantile(boot, 0.025)), "high": float(np.quantile(boot, 0.975))}


def fmt(d: dict, key: str = "value") -> str:
    return f"{d[key]:.3f} [{d['low']:.3f}, {d['high']:.3f}]"


# --- commands --------------------------------------------------------------------------------------

def cmd_fit(a) -> None:
    r, amp, _ = choose(a.seed)
    print(f"\nchosen contrast ratio {r} (target band {TARGET}); amplitudes (paste into synthetic.AMP):")
    for (c, k), v in amp.items():
        print(f"    ({c!r}, {k!r}): {v},")


def cmd_report(a) -> None:
    lines: list[str] = []

    def log(s=""):
        print(s, flush=True)
        lines.append(s)

    t_start = time.perf_counter()
    new_amp, new_version = dict(synthetic.AMP), synthetic.GENERATOR_VERSION
    log("# Synthetic data calibration (generated by `benchmarks/calibrate_synthetic.py report`)\n")
    log(__doc__.split("\n\n", 2)[2].strip() + "\n")
    log(f"Settings: {SIZE} px, {N_TRAIN} training images, {N_GOOD} good and {N_DEFECT} defective test images per "
        f"kind and category; bootstrap {N_BOOT} resamples; threads {os.environ.get('OMP_NUM_THREADS', 'all')}.\n")
    log("## 1. Fitting the common contrast ratio (held-out seed 1)\n\n```")
    r, fitted, rows = choose(1, log=log)
    log("```\n")
    worst = max(abs(fitted[ck] - new_amp[ck]) / max(new_amp[ck], 1e-9) for ck in new_amp)
    log(f"Chosen ratio: {r}. Largest relative difference between the fitted amplitudes and the generator's "
        f"table (version {new_version}): {worst:.3f}.\n")
    log("## 2. The criterion on the book's data (seed 0), previous and current generator\n")
    log("| category | kind | amplitude v2 | amplitude v3 | contrast ratio v2 | contrast ratio v3 | area v2 | area v3 |")
    log("|---|---|---|---|---|---|---|---|")
    crit = {}
    for label, amp, version in (("v2", OLD_AMP, 2), ("v3", new_amp, new_version)):
        with generator(amp, version):
            crit[label] = {c: criterion(c, 0) for c in CATEGORIES}
    for c in CATEGORIES:
        for k in CATEGORIES[c]:
            o, n = crit["v2"][c]["kinds"][k], crit["v3"][c]["kinds"][k]
            log(f"| {c} | {k} | {OLD_AMP[(c, k)]} | {new_amp[(c, k)]} | {o['ratio']:.2f} | {n['ratio']:.2f} | "
                f"{o['area']:.4f} | {n['area']:.4f} |")
    log("\nPixel-difference baseline (image AUROC with 95 % interval; pixel AUROC):\n")
    log("| category | image v2 | image v3 | pixel v2 | pixel v3 |")
    log("|---|---|---|---|---|")
    for c in CATEGORIES:
        o, n = crit["v2"][c], crit["v3"][c]
        log(f"| {c} | {fmt(o['image'], 'auroc')} | {fmt(n['image'], 'auroc')} | {o['pixel']:.3f} | {n['pixel']:.3f} |")
    for label in ("v2", "v3"):
        m = np.mean([v["image"]["auroc"] for v in crit[label].values()])
        log(f"\nBaseline mean image AUROC, {label}: {m:.3f} (target band {TARGET[0]}-{TARGET[1]}).")
    if a.skip_methods:
        Path(a.out).write_text("\n".join(lines) + "\n")
        return
    log(f"\n## 3. The methods on both generators ({', '.join(a.categories)}; cpu profile settings)\n\n```")
    res = {}
    for label, amp, version in (("v2", OLD_AMP, 2), ("v3", new_amp, new_version)):
        log(f"generator {label}:")
        with generator(amp, version):
            res[label] = run_methods(a.categories, log=log)
            rest = [c for c in CATEGORIES if c not in a.categories]
            padims = [n for n in res[label] if n.startswith("PaDiM")]
            for n, v in run_methods(rest, log=log, only=padims).items():
                res[label][n + " (all six)"] = {**res[label][n], **v}
    log("```\n")
    names = [n for n in res["v2"] if not n.endswith("(all six)")]
    log("Image AUROC per category and the mean over them, 95 % bootstrap interval:\n")
    log("| method | generator | " + " | ".join(a.categories) + " | mean |")
    log("|---|---|" + "---|" * (len(a.categories) + 1))
    for n in names:
        for label in ("v2", "v3"):
            per = [mean_boot([res[label][n][c]]) for c in a.categories]
            m = mean_boot([res[label][n][c] for c in a.categories])
            log(f"| {n} | {label} | " + " | ".join(fmt(p) for p in per) + f" | {fmt(m)} |")
    log("\nPaired differences of the mean image AUROC (same test images; interval excludes 0 = a difference):\n")
    log("| comparison | v2 | v3 | changes? |")
    log("|---|---|---|---|")
    pd64, pd100 = "PaDiM d=64 (N-pad chapter)", "PaDiM d=100 (PaDiM chapter)"
    for x, y in (("N-pad", pd64), ("PatchCore", pd64), ("SPADE", pd64), ("N-pad", "PatchCore"), ("N-pad", "SPADE"),
                 (pd100, pd64)):
        d = {label: mean_boot([res[label][x][c] for c in a.categories], [res[label][y][c] for c in a.categories])
             for label in ("v2", "v3")}

        def word(e):
            return "ahead" if e["low"] > 0 else "behind" if e["high"] < 0 else "no difference"
        change = "no" if word(d["v2"]) == word(d["v3"]) else f"yes: {word(d['v2'])} -> {word(d['v3'])}"
        log(f"| {x} - {y} | {fmt(d['v2'])} ({word(d['v2'])}) | {fmt(d['v3'])} ({word(d['v3'])}) | {change} |")
    log("\nPaDiM's mean image AUROC over all six categories (the PaDiM chapter's set) beside the four above:\n")
    log("| PaDiM | generator | mean of the four | mean of all six |")
    log("|---|---|---|---|")
    for n in (pd100, pd64):
        for label in ("v2", "v3"):
            six = res[label][n + " (all six)"]
            log(f"| {n} | {label} | {fmt(mean_boot([six[c] for c in a.categories]))} | "
                f"{fmt(mean_boot([six[c] for c in CATEGORIES]))} |")
    log(f"\nTotal time {time.perf_counter() - t_start:.0f} s.")
    Path(a.out).write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit", help="print the amplitudes the rule gives")
    f.add_argument("--seed", type=int, default=1)
    r = sub.add_parser("report", help="criterion and methods on the old and new generator -> markdown")
    r.add_argument("--categories", nargs="+", default=list(COMPARE_CATEGORIES))
    r.add_argument("--skip-methods", action="store_true")
    r.add_argument("--out", default=str(Path(__file__).with_suffix(".md")))
    a = ap.parse_args()
    {"fit": cmd_fit, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
