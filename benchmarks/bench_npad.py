"""N-pad memory at the paper's dimensions, and speed of N-pad, PaDiM and PatchCore (prints figures; not a test).

    python benchmarks/bench_npad.py memory [--n-train 20] [--weights random]
    python benchmarks/bench_npad.py speed  [--profile cpu] [--category weave] [--repeats 5] [--threads N]
                                           [--size 224] [--methods padim,patchcore,npad] [--set infer_radius=0]
                                           [--variant infer_radius=0 --variant d=32,shift=1]
                                           [--backbone wide_resnet50_2 --weights random]

``memory``: N-pad fitted and run at the paper's dimensions (WRN-50 layers 1-3, d = 550 channels at
56 x 56 from 224 px images, train radius 3, inference radius 2, one shift) on random images; ``random``
weights when no ImageNet weights resolve (this measures memory, not accuracy). Peak resident memory of
the fit and of the prediction is printed with what is stored.

``speed``: fit time and predict images/s of each method on one synthetic category at the profile's
size, beside the time of the backbone passes the method needs (one per training image; one per test
image, times the 4s + 1 shifted copies for N-pad; building the extractor counts for the fit only).
Overhead = (method - backbone) / backbone, with the backbone timed just before and just after each
method run (their mean: the machine's speed drifts), the median over the repeats. Each ``--variant``
(comma-separated ``KEY=VALUE`` N-pad overrides, on top of ``--set``) adds an N-pad row, timed in the same
run: the trade-off between N-pad's cost and its image AUROC (the last column, on the category's test set).
"""
from __future__ import annotations

import os

# timings of the methods' own backbone passes: the within-build feature cache stays off
os.environ["DEFECTBOOK_FEATURE_CACHE"] = "0"

import argparse
import statistics
import time

import torch

from defectbook import DefectbookError
from defectbook.components.backbones import FeatureExtractor, resolve_weight_file
from defectbook.data.prepare import prepare
from defectbook.evaluation.metrics import image_auroc
from defectbook.methods import build
from defectbook.methods.npad import shift_offsets
from defectbook.pipeline import spec
from defectbook.pipeline.provenance import PeakMemory


def backbone_time(params: dict, images: torch.Tensor, copies: int = 1) -> tuple[float, float]:
    """Seconds to build the extractor, and seconds of ``copies`` forward passes per image in the method's
    batches (a fit pays both; a predict only the passes)."""
    t0 = time.perf_counter()
    fe = FeatureExtractor(params.get("backbone", "efficientnet_lite0"),
                          params.get("layers", ("layer1", "layer2", "layer3")),
                          params.get("weights"))
    t1 = time.perf_counter()
    bs = params.get("batch_size", 16)
    x = images.repeat(copies, 1, 1, 1) if copies > 1 else images
    with torch.no_grad():
        for i in range(0, len(x), bs):
            fe(x[i:i + bs])
    return t1 - t0, time.perf_counter() - t1


def memory(a) -> None:
    weights = a.weights
    if weights is None:
        try:
            resolve_weight_file("wide_resnet50_2")
        except DefectbookError:
            weights = "random"
    params = dict(backbone="wide_resnet50_2", layers=["layer1", "layer2", "layer3"], weights=weights, d=550,
                  train_radius=3, infer_radius=2, shift=0 if a.no_shift else 1, kmeans_ratio=0.1,
                  kmeans_iters=a.kmeans_iters, kmeans_mode="two_level", weighting=a.weighting, batch_size=4)
    g = torch.Generator().manual_seed(0)
    train = torch.rand(a.n_train, 3, 224, 224, generator=g)
    test = torch.rand(a.n_test, 3, 224, 224, generator=g)
    torch.set_num_threads(a.threads)
    det = build("npad", **params)
    with PeakMemory() as m_fit:
        t0 = time.perf_counter()
        det.fit(train)
        fit_s = time.perf_counter() - t0
    with PeakMemory() as m_pred:
        t0 = time.perf_counter()
        det.predict(test)
        pred_s = time.perf_counter() - t0
    ex = det.extras()
    print(f"N-pad at paper dimensions: {params}")
    print(f"train {a.n_train} x 3 x 224 x 224 (random pixels), test {a.n_test}; feature map {ex['feature_shape']}, "
          f"d = {ex['channels']}, centroids {ex.get('n_centroids')}, torch threads {torch.get_num_threads()}")
    print(f"stored precisions (two packed sets): {ex['stored_precision_mb']:.0f} MiB")
    print(f"fit:     {fit_s:8.1f} s, peak RSS {m_fit.peak_rss_mb:8.0f} MiB "
          f"(process start of fit {m_fit.start_rss_mb:.0f} MiB)")
    print(
        f"predict: {pred_s:8.1f} s, peak RSS {m_pred.peak_rss_mb:8.0f} MiB ({ex['n_shifts']} shifted copies per image)"
    )
    print(f"peak <= 6 GiB: {max(m_fit.peak_rss_mb, m_pred.peak_rss_mb) <= 6 * 1024}")


def _setting(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` of ``--set``, the value read as YAML (``0`` an int, ``[a, b]`` a list)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(value)


def speed(a) -> None:
    if a.threads:
        torch.set_num_threads(a.threads)
    rows = []
    warm = torch.rand(4, 3, 64, 64)
    backbone_time({}, warm)                    # load the libraries and weights once, outside the timings
    runs_of = [(m, {}) for m in a.methods.split(",")]
    runs_of += [("npad", v) for v in a.variant] if "npad" in a.methods.split(",") else []
    for method, variant in runs_of:
        over = {"backbone": a.backbone, "weights": a.weights} if a.backbone else None
        cfg = spec.make_config(a.profile, "npad", method, "synthetic", a.category, over,
                         transform={"resize": a.size, "crop": None} if a.size else None)
        prep = prepare(cfg)
        params = {**cfg["params"], **a.set, **variant} if method == "npad" else cfg["params"]
        copies = len(shift_offsets(params.get("shift", 0))) if method == "npad" else 1
        runs = []
        for _ in range(a.repeats):
            build_s, bb_fit = backbone_time(params, prep.train)
            _, bb_pred = backbone_time(params, prep.test, copies)
            with PeakMemory() as mem:
                t0 = time.perf_counter()
                det = build(method, **params).fit(prep.train)
                t1 = time.perf_counter()
                pred = det.predict(prep.test)
                t2 = time.perf_counter()
            # the same backbone passes again, after the method: this machine's speed drifts, so each run's
            # method time is compared with the mean of the backbone times taken just before and after it
            build_2, bb_fit_2 = backbone_time(params, prep.train)
            _, bb_pred_2 = backbone_time(params, prep.test, copies)
            build_s, bb_fit, bb_pred = (build_s + build_2) / 2, (bb_fit + bb_fit_2) / 2, (bb_pred + bb_pred_2) / 2
            bb_fit += build_s                   # fit builds the extractor too
            runs.append((t1 - t0, bb_fit, (t1 - t0 - bb_fit) / bb_fit, t2 - t1, bb_pred, (t2 - t1 - bb_pred) / bb_pred,
                         mem.peak_rss_mb, image_auroc(prep.labels, pred.image_scores)))
        med = [statistics.median(col) for col in zip(*runs)]
        name = method + "".join(f" {k}={v}" for k, v in variant.items())
        rows.append((name, copies, prep.test.shape[0], *med))
    bb = (a.backbone + (f" ({a.weights} weights)" if a.weights else "")) if a.backbone else "the profile's"
    bb += f", N-pad overrides {a.set}" if a.set else ""
    print(f"synthetic:{a.category}, profile {a.profile}, backbone {bb}, image {tuple(prep.train.shape[-2:])}, "
          f"{prep.train.shape[0]} train / {prep.test.shape[0]} test images, torch threads {torch.get_num_threads()}, "
          f"median of {a.repeats} (overheads: median of the per-run ratios)")
    w = max(10, *(len(r[0]) + 1 for r in rows))
    print(f"{'method':{w}}{'passes/img':>11}{'fit s':>8}{'bb fit s':>9}{'fit ovh':>8}{'pred s':>8}{'bb pred s':>10}"
          f"{'pred ovh':>9}{'img/s':>7}{'peak MiB':>9}{'img AUROC':>10}")
    for method, copies, n_te, fit, bbf, fovh, pred, bbp, povh, peak, auroc in rows:
        print(f"{method:{w}}{copies:11d}{fit:8.2f}{bbf:9.2f}{fovh:8.2f}{pred:8.2f}{bbp:10.2f}"
              f"{povh:9.2f}{n_te / pred:7.1f}{peak:9.0f}{auroc:10.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("memory")
    m.add_argument("--n-train", type=int, default=20)
    m.add_argument("--n-test", type=int, default=2)
    m.add_argument("--weights", default=None)
    m.add_argument("--kmeans-iters", type=int, default=2)
    m.add_argument("--threads", type=int, default=2)
    m.add_argument("--no-shift", action="store_true")
    m.add_argument("--weighting", default="bhattacharyya")
    s = sub.add_parser("speed")
    s.add_argument("--profile", default="cpu")
    s.add_argument("--category", default="weave")
    s.add_argument("--repeats", type=int, default=5)
    s.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    s.add_argument("--size", type=int, default=None, help="image side (resize, no crop; default: the profile's)")
    s.add_argument("--methods", default="padim,patchcore,npad", help="comma-separated methods to time")
    s.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", type=_setting,
                   help="override N-pad parameters (YAML values), e.g. --set infer_radius=0 d=32")
    s.add_argument("--variant", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                   type=lambda t: dict(_setting(kv) for kv in t.split(",")),
                   help="an extra N-pad row with these overrides (repeatable), e.g. --variant infer_radius=0")
    s.add_argument("--backbone", default=None, help="replace every method's backbone (e.g. wide_resnet50_2)")
    s.add_argument("--weights", default=None, help="with --backbone: weights (a path, or 'random' to time "
                   "a backbone whose ImageNet weights are absent)")
    a = ap.parse_args()
    a.set = dict(getattr(a, "set", None) or [])
    memory(a) if a.cmd == "memory" else speed(a)


if __name__ == "__main__":
    main()
