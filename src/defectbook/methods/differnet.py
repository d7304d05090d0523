"""DifferNet (Rudolph, Wandt, Rosenhahn, WACV 2021): a normalizing flow on multi-scale,
multi-transform image features.

Pipeline (paper, Sec. 3 and 4.2):

* **features** ``f_ex``: the image is resized to 3 scales (paper: 448, 224, 112 px), each goes
  through a frozen ImageNet CNN (paper: AlexNet's convolutional part, 256 channels), each map is
  global-average-pooled and the three vectors are concatenated (paper: 3 x 256 = 768 features).
  :class:`MultiTransformFeatures` does this for any backbone layer (default: the offline
  ``efficientnet_lite0``); it is shared with the OCSVM and 1-NN baselines (:mod:`.knn`).
* **flow** ``f_NF``: 8 blocks of fixed random permutation + GLOW affine coupling, soft clamp
  alpha = 3, subnets of 3 hidden layers of 2048 units (:func:`defectbook.components.flows.coupling_flow`).
* **training**: NLL loss ``||z||^2/2 - log|det J|`` (divided by D) on features of randomly rotated
  images (uniform in [0, 360) degrees; MTD also brightness/contrast factors uniform in
  [0.85, 1.15]), Adam with lr 2e-4, paper: 192 epochs, batch size 96.
* **score**: ``tau(x)`` = mean over the test transforms of ``mean(z^2)`` (the official code's
  form of Eq. 5). Our test transforms are a fixed set of ``test_transforms`` evenly spaced
  rotations (1 = the image itself), not random ones as in the official code.
* **localization** (Sec. 3.3): the NLL is back-propagated to the input for each of
  ``localize_transforms`` fixed rotations; each gradient is rotated back, blurred per channel with
  a Gaussian, its absolute values summed over channels, and the maps averaged (Eq. 7).

Our additions, all parameters: ``train_bank`` (a fixed bank of K random transforms per training
image whose features are computed once, instead of fresh transforms every epoch: see the
reproducibility notes), ``standardize`` (features z-scored with training statistics before the
flow), and ``snapshots`` (copies of the flow at evenly spaced epochs, scored on the test images in
``predict`` and returned by ``extras()`` so a notebook can show the "best epoch on test" number
the official code reports; the detector itself always predicts with the last epoch).
"""
from __future__ import annotations

import copy
import hashlib
import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .. import DefectbookError
from ..components.backbones import FeatureExtractor
from ..components.features import FEATURES, gaussian_blur, pad_batch, padded_call
from ..components.flows import coupling_flow, flow_loss, n_parameters, nll
from ..utils import progress, resolve_device
from .base import Detector, Prediction, check_params
from .registry import register


def rotation_angles(n: int) -> list[float]:
    """The fixed test transforms: ``n`` evenly spaced rotations ``360 k / n`` degrees (0 first)."""
    if n < 1:
        raise DefectbookError(f"the number of test transforms must be >= 1, got {n}")
    return [360.0 * k / n for k in range(n)]


class MultiTransformFeatures:
    """DifferNet's feature function ``f_ex(T(x))``: global-average-pooled features of one backbone
    layer (or of several, ``layer=["layer3", "layer4"]``, concatenated) at several scales of a
    transformed image, concatenated.

    ``scales`` are factors of the input size (paper: 448 px input and (1, 1/2, 1/4)). Calling it on
    ``x [B, 3, H, W]`` gives ``[B, D]`` with ``D = len(scales) * sum(C_l)`` (differentiable w.r.t. ``x``).
    :meth:`transformed` returns ``[N, T, D]`` for a list of transforms (rotation angle, brightness,
    contrast). Results of :meth:`transformed` on the CPU are kept in the build's feature cache
    (:data:`defectbook.components.features.FEATURES`, keyed by the images' bytes, the backbone and the transforms;
    ``DEFECTBOOK_FEATURE_CACHE=0`` turns it off) so that DifferNet, OCSVM and 1-NN on the same data and
    transforms extract the backbone features once (the same deterministic computation).
    """

    _extractors: dict = {}

    def __init__(self, backbone: str = "efficientnet_lite0", layer: str | Sequence[str] = "layer4",
                 weights: str | None = None, scales: Sequence[float] = (1.0, 0.5, 0.25), batch_size: int = 16,
                 device: str | None = "cpu"):
        scales = [float(s) for s in ([scales] if isinstance(scales, (int, float)) else scales)]
        if not scales or any(not 0 < s <= 4 for s in scales):
            raise DefectbookError(f"scales must be a non-empty list of factors in (0, 4], got {scales}")
        layers = [layer] if isinstance(layer, str) else list(layer)
        if not layers:
            raise DefectbookError("layer must name a backbone layer or a non-empty list of them")
        self.device = resolve_device(device)
        key = (backbone, tuple(layers), str(weights), str(self.device))
        if key not in self._extractors:            # frozen networks: build each once per process
            self._extractors.clear()
            self._extractors[key] = FeatureExtractor(backbone, layers, weights).to(self.device)
        self.extractor = self._extractors[key]
        self.scales, self.batch_size = scales, int(batch_size)
        self.dim = len(scales) * sum(self.extractor.channels)

    def describe(self) -> str:
        return f"{self.extractor.describe()} GAP x scales {self.scales}"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` -> ``[B, len(scales) * C]``."""
        out = []
        for s in self.scales:
            xs = x if s == 1.0 else F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False,
                                                   antialias=s < 1, recompute_scale_factor=False)
            if min(xs.shape[-2:]) < 16:
                raise DefectbookError(f"scale {s} of a {x.shape[-1]} px image is {xs.shape[-1]} px: too small "
                                      "for the backbone (use larger images or fewer scales)")
            out += [m.mean(dim=(2, 3)) for m in self.extractor(xs)]
        return torch.cat(out, 1)

    @staticmethod
    def apply(x: torch.Tensor, angle: float | torch.Tensor, brightness=None, contrast=None) -> torch.Tensor:
        """One transform of ``x [B, 3, H, W]``: brightness and contrast factors (``[B]`` or None), then a
        rotation by ``angle`` degrees (scalar or ``[B]``) about the centre (zeros outside)."""
        from ..data.transforms import rotate

        if brightness is not None:
            x = (x * brightness.view(-1, 1, 1, 1)).clamp(0, 1)
        if contrast is not None:
            grey = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).mean(dim=(1, 2)).view(-1, 1, 1, 1)
            x = (grey + contrast.view(-1, 1, 1, 1) * (x - grey)).clamp(0, 1)
        if torch.is_tensor(angle) or angle % 360 != 0:
            x = rotate(x, angle)
        return x

    def transformed(self, images: torch.Tensor, transforms: Sequence[dict], desc: str = "features") -> torch.Tensor:
        """Features of every image under every transform: ``[N, T, D]``.

        ``transforms``: dicts with ``angle`` (degrees, scalar or ``[N]`` tensor) and optional
        ``brightness`` / ``contrast`` (``[N]`` tensors of factors)."""
        cacheable = FEATURES.mode() != "off" and torch.device(self.device).type == "cpu"
        key = ["differnet-" + self._key(images, transforms)] if cacheable else None
        hit = FEATURES.get(key, images.shape[0]) if key else None
        if hit is not None:
            return hit[0].clone()
        with FEATURES.computing(key):       # DifferNet, OC-SVM and 1-NN of one page may run at once on a cluster
            hit = FEATURES.get(key, images.shape[0]) if key else None
            return hit[0].clone() if hit is not None else self._compute(images, transforms, desc, key)

    def _compute(self, images: torch.Tensor, transforms: Sequence[dict], desc: str, key: list[str] | None
                 ) -> torch.Tensor:
        n, bs = images.shape[0], self.batch_size
        out = torch.empty(n, len(transforms), self.dim, device=self.device)   # stays on the device
        steps = [(t, i) for t in range(len(transforms)) for i in range(0, n, bs)]
        with torch.no_grad():
            for t, i in progress(steps, desc=desc):
                tf = transforms[t]
                sl = slice(i, i + bs)
                pick = lambda v: v[sl].to(self.device) if torch.is_tensor(v) else v  # noqa: E731
                angle = tf["angle"][sl] if torch.is_tensor(tf["angle"]) else tf["angle"]   # rotate() builds its grid
                x = self.apply(images[sl].to(self.device), angle, pick(tf.get("brightness")),
                               pick(tf.get("contrast")))
                out[sl, t] = padded_call(self, x, bs)   # every image in a batch of bs: position-free
        if key:
            FEATURES.put(key, [out.clone()])
        return out

    def _key(self, images: torch.Tensor, transforms: Sequence[dict]) -> str:
        h = hashlib.blake2b(digest_size=16)
        h.update(repr((self.describe(), tuple(images.shape))).encode())
        h.update(images.detach().cpu().contiguous().numpy().tobytes())
        for tf in transforms:
            for k in ("angle", "brightness", "contrast"):
                v = tf.get(k)
                h.update((k + repr(v.tolist() if torch.is_tensor(v) else v)).encode())
        return h.hexdigest()


def random_transforms(n: int, k: int, seed: int, jitter: float = 0.0) -> list[dict]:
    """``k`` random training transforms for ``n`` images (seeded): each a dict with ``angle [n]``
    uniform in [0, 360) and, when ``jitter > 0``, ``brightness`` / ``contrast`` ``[n]`` uniform in
    ``[1 - jitter, 1 + jitter]`` (paper, MTD: 0.15)."""
    out = []
    for j in range(k):
        g = torch.Generator().manual_seed(seed * 100_003 + j)
        tf = {"angle": torch.rand(n, generator=g) * 360.0}
        if jitter:
            tf["brightness"] = 1 + (torch.rand(n, generator=g) * 2 - 1) * jitter
            tf["contrast"] = 1 + (torch.rand(n, generator=g) * 2 - 1) * jitter
        out.append(tf)
    return out


def identity_transforms(k: int = 1) -> list[dict]:
    return [{"angle": 0.0} for _ in range(k)]


@register("differnet", label="DifferNet", record_version=2)
class DifferNet(Detector):
    """DifferNet detector (see the module docstring for the method and the paper's settings).

    Features: ``backbone``, ``layer`` (a name, or a list whose pooled features are concatenated), ``weights`` (None =
    ImageNet, a path, or ``"random"``), ``scales`` (``[1.0]`` = single scale). Flow: ``n_blocks``, ``width``,
    ``hidden_layers``, ``clamp``. Training: ``epochs`` (one epoch = every training image once, under one random
    transform), ``batch_size``, ``lr``, ``weight_decay``, ``train_transforms`` (False: untransformed images
    only), ``jitter`` (brightness/contrast half-range, 0.15 for MTD), ``train_bank`` (K random
    transforms per image precomputed once; None = fresh random transforms every epoch, as the paper).
    Test: ``test_transforms`` (1/4/16/64 evenly spaced rotations). Localization: ``localize``,
    ``localize_transforms``, ``sigma`` (blur). ``snapshots``: number of evenly spaced epochs whose
    flow is kept for the "best epoch on test" diagnostic (0 = none).
    """

    name = "differnet"

    def __init__(self, backbone: str = "efficientnet_lite0", layer: str | Sequence[str] = "layer4",
                 weights: str | None = None, scales: Sequence[float] = (1.0, 0.5, 0.25), n_blocks: int = 8,
                 width: int = 2048,
                 hidden_layers: int = 3, clamp: float = 3.0, epochs: int = 192, batch_size: int = 96,
                 lr: float = 2e-4, weight_decay: float = 0.0, train_transforms: bool = True, jitter: float = 0.0,
                 train_bank: int | None = None, standardize: bool = True, test_transforms: int = 64,
                 localize: bool = False, localize_transforms: int = 4, sigma: float = 4.0, snapshots: int = 0,
                 feature_batch: int = 16, seed: int = 0, device: str | None = "cpu"):
        check_params("differnet", n_blocks=(n_blocks, "int>=1"), width=(width, "int>=1"),
                     hidden_layers=(hidden_layers, "int>=1"), clamp=(clamp, "float>0"), epochs=(epochs, "int>=1"),
                     batch_size=(batch_size, "int>=1"), lr=(lr, "float>0"), weight_decay=(weight_decay, "float>=0"),
                     jitter=(jitter, "float[0,1)"), train_bank=(train_bank, "int>=1?"),
                     test_transforms=(test_transforms, "int"), localize_transforms=(localize_transforms, "int>=1"),
                     sigma=(sigma, "float>=0"), snapshots=(snapshots, "int>=0"),
                     feature_batch=(feature_batch, "int>=1"),
                     seed=(seed, "int"))
        self.backbone, self.layer, self.weights, self.scales = backbone, layer, weights, list(scales)
        self.n_blocks, self.width, self.hidden_layers, self.clamp = n_blocks, width, hidden_layers, clamp
        self.epochs, self.batch_size, self.lr, self.weight_decay = int(epochs), int(batch_size), lr, weight_decay
        self.train_transforms, self.jitter, self.train_bank = train_transforms, float(jitter), train_bank
        self.standardize, self.test_transforms = standardize, int(test_transforms)
        self.localize, self.localize_transforms, self.sigma = localize, int(localize_transforms), sigma
        self.snapshots, self.feature_batch, self.seed, self.device = int(snapshots), feature_batch, seed, device
        resolve_device(device)        # an unavailable device is a clear error here, not at fit
        if self.epochs < 1 or self.batch_size < 1:
            raise DefectbookError(f"differnet: epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
        if not 0 <= self.jitter < 1:
            raise DefectbookError(f"differnet: jitter must be in [0, 1), got {jitter}")
        if train_bank is not None and int(train_bank) < 1:
            raise DefectbookError(f"differnet: train_bank must be None or >= 1, got {train_bank}")
        rotation_angles(self.test_transforms)

    _rebuilt = ("device_", "features_", "extractor_")

    def _feature_function(self) -> "MultiTransformFeatures":
        return MultiTransformFeatures(self.backbone, self.layer, self.weights, self.scales, self.feature_batch,
                                      self.device)

    def _rebuild(self) -> None:
        """On load: the frozen feature function and an empty flow (its weights are stored)."""
        self.features_ = self._feature_function()
        self.extractor_ = self.features_.extractor
        self.flow_ = coupling_flow(self.features_.dim, self.n_blocks, self.width, self.hidden_layers, self.clamp,
                                   seed=self.seed).to(self.device_)

    # --- features -------------------------------------------------------------------------------
    def _train_transforms(self, n: int, k: int, offset: int = 0) -> list[dict]:
        if not self.train_transforms:
            return identity_transforms(k)
        return random_transforms(n, k, self.seed + offset, self.jitter)

    def _normalise(self, y: torch.Tensor) -> torch.Tensor:
        return (y - self.mean_) / self.std_ if self.standardize else y

    # --- fit ------------------------------------------------------------------------------------
    def _fit(self, images: torch.Tensor) -> None:
        self.device_ = resolve_device(self.device)
        self.features_ = self._feature_function()
        self.extractor_ = self.features_.extractor
        n = images.shape[0]
        g = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        bank_k = 1 if not self.train_transforms else self.train_bank
        if bank_k is not None:
            bank = self.features_.transformed(images, self._train_transforms(n, int(bank_k)), "differnet bank")
        else:   # the paper: a fresh random transform of every image in every epoch
            bank = self.features_.transformed(images, self._train_transforms(n, 1), "differnet epoch 1")
        flat = bank.reshape(-1, bank.shape[-1])
        self.mean_, self.std_ = flat.mean(0), flat.std(0).clamp_min(1e-6)
        self.flow_ = coupling_flow(self.features_.dim, self.n_blocks, self.width, self.hidden_layers, self.clamp,
                                   seed=self.seed).to(self.device_)
        opt = torch.optim.Adam(self.flow_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        snap_at = set(np.unique(np.linspace(self.epochs / max(self.snapshots, 1), self.epochs,
                                            self.snapshots).round().astype(int)).tolist()) if self.snapshots else set()
        self.snapshots_: list[tuple[int, dict]] = []
        self.loss_curve_: list[float] = []
        for epoch in progress(range(self.epochs), desc="differnet train"):
            if bank_k is None and epoch > 0:
                bank = self.features_.transformed(images, self._train_transforms(n, 1, offset=7919 * epoch),
                                                  f"differnet epoch {epoch + 1}")
            col = torch.randint(bank.shape[1], (n,), generator=g)
            y = self._normalise(bank[torch.arange(n, device=bank.device), col.to(bank.device)])   # [N, D]
            order = torch.randperm(n, generator=g).to(y.device)
            total = 0.0
            self.flow_.train()
            for i in range(0, n, self.batch_size):
                yb = y[order[i:i + self.batch_size]].to(self.device_)
                z, jac = self.flow_(yb)
                loss = flow_loss(z, jac)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * yb.shape[0]
            self.loss_curve_.append(total / n)
            if not math.isfinite(self.loss_curve_[-1]):
                raise DefectbookError(f"differnet: the training loss diverged at epoch {epoch + 1} (lower lr?)")
            if epoch + 1 in snap_at:
                self.snapshots_.append((epoch + 1, {k: v.detach().cpu().clone()
                                                    for k, v in self.flow_.state_dict().items()}))
        self.flow_.eval()

    # --- predict --------------------------------------------------------------------------------
    def _scores(self, feats: torch.Tensor, flow=None) -> torch.Tensor:
        """``[N, T, D]`` features -> ``[N]`` scores: mean over transforms of ``mean(z^2)``."""
        flow = flow or self.flow_
        n, t, d = feats.shape
        y = self._normalise(feats.reshape(-1, d))
        out = []
        with torch.no_grad():
            for i in range(0, y.shape[0], 1024):
                z, _ = flow(y[i:i + 1024].to(self.device_))
                out.append((z ** 2).mean(1))
        return torch.cat(out).view(n, t).mean(1).cpu()

    def test_features(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, T, D]`` features of the fixed test transforms."""
        tfs = [{"angle": a} for a in rotation_angles(self.test_transforms)]
        return self.features_.transformed(images, tfs, "differnet test")

    def _predict(self, images: torch.Tensor) -> Prediction:
        feats = self.test_features(images)
        scores = self._scores(feats)
        if self.snapshots_:
            flow = copy.deepcopy(self.flow_)
            self.snapshot_scores_ = []
            for epoch, state in self.snapshots_:
                flow.load_state_dict(state)
                flow.eval()
                self.snapshot_scores_.append((epoch, self._scores(feats, flow).tolist()))
        maps = self.gradient_maps(images).numpy() if self.localize else None
        return Prediction(scores.numpy(), maps)

    def gradient_maps(self, images: torch.Tensor) -> torch.Tensor:
        """DifferNet's localization (Eq. 7), ``[N, 3, H, W]`` -> ``[N, H, W]``: for each of
        ``localize_transforms`` evenly spaced rotations, the gradient of the NLL w.r.t. the rotated
        input, rotated back, Gaussian-blurred per channel (``sigma``), absolute values summed over
        channels; the mean over rotations."""
        from ..data.transforms import rotate

        self.flow_.eval()
        angles = rotation_angles(self.localize_transforms)
        out = torch.zeros(images.shape[0], *images.shape[-2:], device=self.device_)
        steps = [(a, i) for a in angles for i in range(0, images.shape[0], self.feature_batch)]
        for a, i in progress(steps, desc="differnet gradients"):
            n = min(self.feature_batch, images.shape[0] - i)   # a full batch always: maps free of batch position
            x = self.features_.apply(pad_batch(images[i:i + n], self.feature_batch).to(self.device_), a)
            x = x.detach().requires_grad_(True)
            z, jac = self.flow_(self._normalise(self.features_(x)))
            (grad,) = torch.autograd.grad(nll(z, jac).sum(), x)
            grad = grad[:n]
            if a % 360:
                grad = rotate(grad, -a)
            b, c, h, w = grad.shape
            blurred = gaussian_blur(grad.reshape(b * c, h, w), self.sigma).view(b, c, h, w)
            out[i:i + b] += blurred.abs().sum(1) / len(angles)
        return out.cpu()

    def extras(self) -> dict:
        """Loss per epoch, flow size, and (with ``snapshots``) test scores of earlier epochs."""
        out = {"loss": [round(v, 5) for v in self.loss_curve_], "flow_parameters": n_parameters(self.flow_),
               "feature_dim": self.features_.dim, "features": self.features_.describe()}
        if getattr(self, "snapshot_scores_", None):
            out["snapshot_epochs"] = [e for e, _ in self.snapshot_scores_]
            out["snapshot_scores"] = [[round(v, 6) for v in s] for _, s in self.snapshot_scores_]
        return out
