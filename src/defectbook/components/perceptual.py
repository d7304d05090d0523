"""Spatial perceptual distance (Zhang et al. 2018, LPIPS; TrustMAE Eq. 8).

``PD(x, y) = sum_l gamma_l . upsample((phi_l(x) - phi_l(y))^2)`` with ``phi_l`` channel-unit-
normalised features of layer ``l`` and ``gamma_l`` per-channel weights, giving a map ``[B, H, W]``.

``net="alex"`` / ``"vgg"``: the LPIPS v0.1 linear weights shipped inside the ``lpips`` package
on the AlexNet / VGG-16 trunk of :mod:`defectbook.components.backbones` (its ImageNet weights must resolve;
otherwise a clear error). ``net="offline"``: the offline ``efficientnet_lite0`` features
(layer1..layer3) with *unit* channel weights: not LPIPS, and :attr:`label` says so.
``net="auto"`` tries ``alex`` and falls back to ``offline``, never silently: the label and
:attr:`fallback_reason` record why.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import DefectbookError
from .backbones import FeatureExtractor

TRUNKS = {
    "alex": ("alexnet", ["relu1", "relu2", "relu3", "relu4", "relu5"], "alex.pth"),
    "vgg": ("vgg16", ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"], "vgg.pth"),
    "offline": ("efficientnet_lite0", ["layer1", "layer2", "layer3"], None),
}


def lpips_weight_file(net: str) -> Path:
    """The LPIPS v0.1 linear-layer weights of ``net`` shipped in the ``lpips`` package."""
    try:
        import lpips
    except ImportError:  # pragma: no cover - lpips is a dependency
        raise DefectbookError("the 'lpips' package is not installed: it ships the LPIPS channel weights") from None
    p = Path(os.path.dirname(lpips.__file__)) / "weights" / "v0.1" / TRUNKS[net][2]
    if not p.is_file():
        raise DefectbookError(f"LPIPS weights {p} are missing from the lpips package")
    return p


def _unit(f: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    return f / (f.pow(2).sum(1, keepdim=True).sqrt() + eps)


class SpatialPerceptualDistance(nn.Module):
    """Spatial perceptual distance map.

    ``forward(x, y)`` with ``x, y`` ``[B, 3, H, W]`` in ``[0, 1]`` returns ``[B, H, W]`` (>= 0).
    Parameters: ``net`` (``auto``, ``alex``, ``vgg``, ``offline``), ``weights`` for the trunk
    (None = resolve ImageNet weights, a path, or ``"random"``).
    """

    def __init__(self, net: str = "auto", weights: str | None = None):
        super().__init__()
        if net not in ("auto", *TRUNKS):
            raise DefectbookError(f"unknown perceptual net {net!r}; known: auto, {', '.join(TRUNKS)}")
        self.fallback_reason = None
        if net == "auto":
            try:
                self._build("alex", weights)
            except DefectbookError as e:
                self.fallback_reason = f"LPIPS AlexNet trunk unavailable ({str(e).splitlines()[0][:160]})"
                self._build("offline", None)
        else:
            self._build(net, weights)
        for p in self.parameters():
            p.requires_grad_(False)

    def _build(self, net: str, weights) -> None:
        name, layers, _ = TRUNKS[net]
        self.extractor = FeatureExtractor(name, layers, weights)
        if net == "offline":
            gammas = [torch.ones(c) for c in self.extractor.channels]
            self.label = f"offline-unit[{self.extractor.describe()}, unit channel weights, not LPIPS]"
        else:
            sd = torch.load(lpips_weight_file(net), map_location="cpu", weights_only=True)
            gammas = [sd[f"lin{i}.model.1.weight"].flatten() for i in range(len(layers))]
            self.label = f"lpips-{net}[{self.extractor.describe()}, LPIPS v0.1 weights]"
        self.net = net
        self.gammas = nn.ParameterList([nn.Parameter(g.clone(), requires_grad=False) for g in gammas])

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape:
            raise DefectbookError(
                f"perceptual distance needs two images of one shape, got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        n = x.shape[0]
        feats = self.extractor(torch.cat([x, y]))
        out = x.new_zeros(n, *x.shape[-2:])
        for f, g in zip(feats, self.gammas):
            d = (_unit(f[:n]) - _unit(f[n:])).pow(2)                       # [B, C_l, h, w]
            d = torch.einsum("bchw,c->bhw", d, g.to(d.dtype))[:, None]     # 1x1 "conv" with gamma_l
            out = out + F.interpolate(d, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        return out
