"""PaDiM beside anomalib 2.7's PaDiM on the same tensors and weights (prints figures; not a test).

    python benchmarks/bench_anomalib_padim.py [--dataset mtd] [--size 224] [--repeats 3] [--threads 1]

Both models get the same images and the same weights (EfficientNet-Lite0 layers 1-3, ImageNet weights when
they resolve; all channels kept: d = None, the sum of the layers' channels) in the same channel order, so the
AUROCs must agree. Each runs its own backbone pass: ours (batch-norms folded into the convolutions,
channels-last layout; :class:`~defectbook.components.backbones.FeatureExtractor`) and anomalib's (timm's
``features_only`` network, as its ``TimmFeatureExtractor`` builds it, loaded with the same weights). The
timings cover fit (features of the training images + Gaussians) and predict (features + Mahalanobis maps +
upsampling + blur + image scores). Anomalib's ``PadimModel`` is built with a randomly initialised timm
ResNet-18 (nothing downloaded) whose feature extractor is then replaced. The two sizes to report:
``--max-train 64 --max-test 64`` (the per-position inverse dominates) and ``--max-train 231 --max-test 169``
(MTD's whole split at 224 px: the backbone pass dominates).

anomalib is not a dependency of defectbook. Install it beside the project without touching torch::

    python -m venv --system-site-packages /tmp/avenv     # or any folder; only used for its site-packages
    /tmp/avenv/bin/pip install --no-deps anomalib==2.7.0 jsonargparse omegaconf lightning \\
        lightning-utilities torchmetrics opencv-python-headless einops
    PYTHONPATH=src:/tmp/avenv/lib/python3.11/site-packages python benchmarks/bench_anomalib_padim.py

Without anomalib the script times ours alone and says so.
"""
from __future__ import annotations

import os

# timings of the methods' own backbone passes: the within-build feature cache stays off
os.environ["DEFECTBOOK_FEATURE_CACHE"] = "0"

import argparse
import time

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from defectbook import DefectbookError
from defectbook.components.backbones import FeatureExtractor, build_model, resolve_weight_file
from defectbook.data.prepare import prepare
from defectbook.methods import build
from defectbook.pipeline import spec


class _TimmExtractor(torch.nn.Module):
    """anomalib's own backbone pass (its ``TimmFeatureExtractor``: timm's ``features_only`` network, batch-norms
    unfolded, default memory layout) over the same EfficientNet-Lite0 weights as ours, with our input
    normalisation: ``{layer: [B, C_l, h_l, w_l]}``."""

    def __init__(self, fe: FeatureExtractor, weights):
        import timm

        super().__init__()
        full = build_model("efficientnet_lite0", weights)
        self.net = timm.create_model("tf_efficientnet_lite0", features_only=True, out_indices=(1, 2, 3),
                                     pretrained=False).eval()
        missing, _ = self.net.load_state_dict(full.state_dict(), strict=False)
        assert not missing, missing
        assert self.net.feature_info.channels() == fe.channels, "layers 1-3 of ours are timm's indices 1-3"
        self.fe = fe
        self.layers = fe.layers
        self.out_dims = fe.channels

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self.net.eval()   # as anomalib's frozen TimmFeatureExtractor: frozen batch-norm statistics, no gradients
        with torch.no_grad():
            return dict(zip(self.layers, self.net((x - self.fe.mean) / self.fe.std)))


def anomalib_padim(fe: FeatureExtractor, weights):
    """anomalib's ``PadimModel`` with its own backbone pass over our weights, all channels in our order (or
    None without anomalib)."""
    try:
        from anomalib.models.image.padim.torch_model import PadimModel
    except ImportError:
        return None
    model = PadimModel(backbone="resnet18", layers=list(fe.layers), pre_trained=False, n_features=1)
    model.feature_extractor = _TimmExtractor(fe, weights)
    model.layers = list(fe.layers)
    model.idx = torch.arange(sum(fe.channels))
    model.n_features = model.n_features_original = sum(fe.channels)
    return model


def run_anomalib(model, train: torch.Tensor, test: torch.Tensor, bs: int) -> tuple[float, float, np.ndarray]:
    model.gaussian.mean = torch.empty(0)      # fresh state for every repeat
    model.memory_bank = []
    t0 = time.perf_counter()
    model.train()
    for i in range(0, len(train), bs):
        model(train[i:i + bs])
    model.fit()
    t1 = time.perf_counter()
    model.eval()
    scores = [model(test[i:i + bs]).pred_score for i in range(0, len(test), bs)]
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, torch.cat(scores).flatten().numpy()


def run_ours(params: dict, train: torch.Tensor, test: torch.Tensor) -> tuple[float, float, np.ndarray]:
    t0 = time.perf_counter()
    det = build("padim", **params).fit(train)
    t1 = time.perf_counter()
    scores = det.predict(test).image_scores
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, np.asarray(scores)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="mtd", help="mtd (real, needs DEFECTBOOK_DATA) or synthetic")
    ap.add_argument("--category", default=None)
    ap.add_argument("--size", type=int, default=224, help="image side (resize, no crop)")
    ap.add_argument("--max-train", type=int, default=64)
    ap.add_argument("--max-test", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=16)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    try:
        resolve_weight_file("efficientnet_lite0")
        weights = None
    except DefectbookError:
        weights = "random"
    params = dict(backbone="efficientnet_lite0", layers=["layer1", "layer2", "layer3"], weights=weights, d=None,
                  eps=0.01, sigma=4.0, batch_size=a.batch_size)
    cfg = spec.make_config("cpu", "npad", "padim", a.dataset, a.category, params,
                     split={"max_train": a.max_train, "max_test": a.max_test},
                     transform={"resize": a.size, "crop": None})
    prep = prepare(cfg)
    labels = np.asarray(prep.labels)
    fe = FeatureExtractor("efficientnet_lite0", params["layers"], weights)
    ref = anomalib_padim(fe, weights)
    print(f"PaDiM on {a.dataset}{':' + a.category if a.category else ''} at {a.size} px: train "
          f"{tuple(prep.train.shape)}, test {tuple(prep.test.shape)} ({int(labels.sum())} anomalous), "
          f"EfficientNet-Lite0 [{weights or 'imagenet'}] layers 1-3, all {sum(fe.channels)} channels, eps 0.01, "
          f"torch threads {torch.get_num_threads()}, best of {a.repeats} repeats (alternating)")
    rows = {"ours": [], "anomalib": []}
    with torch.no_grad():
        for _ in range(a.repeats):
            rows["ours"].append(run_ours(params, prep.train, prep.test))
            if ref is not None:
                rows["anomalib"].append(run_anomalib(ref, prep.train, prep.test, a.batch_size))
    if ref is None:
        print("anomalib is not installed (see this script's docstring): ours alone")
    print(f"{'':10}{'fit s':>8}{'predict s':>11}{'total s':>9}{'AUROC':>8}")
    best = {}
    for name, runs in rows.items():
        if not runs:
            continue
        fit, pred = min(r[0] for r in runs), min(r[1] for r in runs)
        auroc = roc_auc_score(labels, runs[-1][2])
        best[name] = fit + pred
        print(f"{name:10}{fit:8.2f}{pred:11.2f}{fit + pred:9.2f}{auroc:8.4f}")
    if len(best) == 2:
        print(f"speed ratio (anomalib time / ours): {best['anomalib'] / best['ours']:.2f}x (target >= 1.5)")
        a, b = rows["ours"][-1][2], rows["anomalib"][-1][2]
        print(f"image scores: largest relative difference {np.max(np.abs(a - b) / np.abs(b)):.2e}, "
              f"Spearman correlation {spearmanr(a, b).statistic:.4f}")


if __name__ == "__main__":
    main()
