"""Calibration of the synthetic dataset: PaDiM image AUROC per category (a script, not a test).

    python benchmarks/calibrate_synthetic.py [--size 128] [--difficulty 1.0] [--seed 0] [--categories weave screw]

Target (defaults, cpu profile: EfficientNet-Lite0, resize 128, crop 112, d = 100): a mean image
AUROC between 0.80 and 0.97, so that methods can differ. Prints per category and per defect kind.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from defectbook.data import load_images, load_masks, load_split
from defectbook.data.synthetic import CATEGORIES, DEFAULTS
from defectbook.data.transforms import make_mask_transform, make_transform
from defectbook.methods.padim import PaDiM
from defectbook.metrics import image_auroc, pixel_auroc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=DEFAULTS["size"])
    ap.add_argument("--crop", type=int, default=None, help="default: 7/8 of size (cpu profile 128 -> 112)")
    ap.add_argument("--difficulty", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--d", type=int, default=100)
    ap.add_argument("--categories", nargs="+", default=list(CATEGORIES))
    ap.add_argument("--cache", default=None, help="dataset cache folder (default: a temporary one)")
    a = ap.parse_args()
    crop = a.crop or a.size * 7 // 8
    tf, mtf = make_transform(a.size, crop), make_mask_transform(a.size, crop)
    cache = a.cache or tempfile.mkdtemp(prefix="synth-cal-")
    res = []
    for cat in a.categories:
        t0 = time.perf_counter()
        split = load_split("synthetic", cat, cache_dir=cache, size=a.size, seed=a.seed, difficulty=a.difficulty)
        xtr, xte = load_images(split.train, tf), load_images(split.test, tf)
        det = PaDiM("efficientnet_lite0", d=a.d, batch_size=16).fit(xtr)
        pred = det.predict(xte)
        y = split.test_labels
        auc = image_auroc(y, pred.image_scores)
        pix = pixel_auroc(load_masks(split.test, mtf).numpy(), pred.maps)
        kinds = {}
        for k in CATEGORIES[cat]:
            sel = np.array([s.defect in ("good", k) for s in split.test])
            kinds[k] = image_auroc(y[sel], pred.image_scores[sel])
        res.append(auc)
        print(f"{cat:8s} image AUROC {auc:.3f}  pixel AUROC {pix:.3f}  "
              + "  ".join(f"{k} {v:.3f}" for k, v in kinds.items()) + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"mean image AUROC {np.mean(res):.3f} over {len(res)} categories (target 0.80-0.97)")


if __name__ == "__main__":
    main()
