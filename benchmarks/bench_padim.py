"""PaDiM speed and memory beside the backbone alone (a script that prints figures, not a test).

    python benchmarks/bench_padim.py [--profile cpu] [--category weave] [--repeats 3]

Fit and predict are timed for the whole method and for the backbone passes the method needs
(building the extractor plus one forward pass per image, same batches). The overhead ratio is
(method - backbone) / backbone; the target is <= 0.25 for fit and for predict. Peak memory is the
process's resident set during the method's fit + predict.
"""
from __future__ import annotations

import os

# timings of the methods' own backbone passes: the within-build feature cache stays off
os.environ["DEFECTBOOK_FEATURE_CACHE"] = "0"

import argparse
import time

import torch

from defectbook.components.backbones import FeatureExtractor
from defectbook.data.prepare import prepare
from defectbook.methods import build
from defectbook.pipeline import spec
from defectbook.pipeline.provenance import PeakMemory


def backbone_only(params: dict, images: torch.Tensor, fe: FeatureExtractor | None = None) -> float:
    """Seconds for the backbone passes over ``images``; building the extractor counts when ``fe`` is None
    (as in the method's fit, which builds it; the fitted method's predict does not)."""
    t0 = time.perf_counter()
    fe = fe or FeatureExtractor(params.get("backbone", "efficientnet_lite0"),
                                params.get("layers", ("layer1", "layer2", "layer3")))
    bs = params.get("batch_size", 16)
    with torch.no_grad():
        for i in range(0, len(images), bs):
            fe(images[i:i + bs])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--category", default="weave")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    cfg = spec.make_config(a.profile, "padim", "padim", "synthetic", a.category)
    prep = prepare(cfg)
    params = cfg["params"]
    print(f"PaDiM on synthetic:{a.category}, profile {a.profile}: train {tuple(prep.train.shape)}, "
          f"test {tuple(prep.test.shape)}, params {params}, torch threads {torch.get_num_threads()}")
    rows = []
    for r in range(a.repeats):
        bb_fit = backbone_only(params, prep.train)
        bb_pred = backbone_only(
            params,
            prep.test,
            FeatureExtractor(
                params.get("backbone", "efficientnet_lite0"), params.get("layers", ("layer1", "layer2", "layer3"))
            ),
        )
        with PeakMemory() as mem:
            t0 = time.perf_counter()
            det = build("padim", **params).fit(prep.train)
            t1 = time.perf_counter()
            det.predict(prep.test)
            t2 = time.perf_counter()
        rows.append((t1 - t0, t2 - t1, bb_fit, bb_pred, mem.peak_rss_mb))
    fit, pred, bbf, bbp, peak = (min(c) for c in zip(*rows))  # best of repeats: least disturbed by noise
    n_test = prep.test.shape[0]
    print(f"{'':18}{'method s':>10}{'backbone s':>12}{'overhead':>10}")
    print(f"{'fit':18}{fit:10.2f}{bbf:12.2f}{(fit - bbf) / bbf:10.2f}")
    print(f"{'predict':18}{pred:10.2f}{bbp:12.2f}{(pred - bbp) / bbp:10.2f}")
    print(f"predict images/s: method {n_test / pred:.1f}, backbone only {n_test / bbp:.1f}")
    print(f"peak RSS during fit+predict: {peak:.0f} MiB (best of {a.repeats} repeats for every figure)")


if __name__ == "__main__":
    main()
