"""MemAE (Gong et al., ICCV 2019) as TrustMAE's baseline: a memory-augmented auto-encoder with
2-D convolutions (the original video model uses 3-D ones; TrustMAE supp. B changes them to 2-D).

Encoder: four stride-2 3x3 convs with batch norm and LeakyReLU(0.2), channels
``(96, 128, 256, latent)`` times ``width`` (the original's feature numbers 96/128/256/256);
memory ``[slots=128, latent=256]`` read at every position of the latent map by cosine
similarity softmax followed by hard shrinkage ``max(w - lambda, 0) w / (|w - lambda| + eps)`` and
L1 re-normalisation (``shrink`` = lambda = 0.0025, the public code's default); decoder: the
mirror image with transposed convs, tanh output. Loss: MSE + ``entropy_weight`` (0.0002) x the
entropy of the addressing weights. Score map: squared error (``distance`` can change it).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import DefectbookError
from .autoencoders import ReconstructionDetector, check_divisible
from .base import check_params
from .registry import register


class MemAEMemory(nn.Module):
    """``forward(z [B, dim, h, w]) -> (z_hat [B, dim, h, w], {"weights": [N, slots]})`` with
    cosine-similarity softmax addressing and hard shrinkage (``shrink`` = 0: plain softmax)."""

    def __init__(self, slots: int = 128, dim: int = 256, shrink: float = 0.0025):
        super().__init__()
        self.slots, self.dim, self.shrink = slots, dim, shrink
        bound = 1 / dim ** 0.5
        self.weight = nn.Parameter(torch.empty(slots, dim).uniform_(-bound, bound))

    def address(self, flat: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(F.linear(F.normalize(flat, dim=1), F.normalize(self.weight, dim=1)), dim=1)
        if self.shrink > 0:
            w = F.relu(w - self.shrink) * w / ((w - self.shrink).abs() + 1e-12)
            w = F.normalize(w, p=1, dim=1)
        return w

    def forward(self, z):
        b, c, h, wd = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, c)
        w = self.address(flat)
        return (w @ self.weight).view(b, h, wd, c).permute(0, 3, 1, 2), {"weights": w}


class MemAEGenerator(nn.Module):
    """``forward(x [B, 3, H, W] in [-1, 1]) -> (recon [B, 3, H, W], {"weights": [N, slots]})``; H, W divisible by 16."""

    def __init__(self, width: float = 1.0, latent: int = 256, slots: int = 128, shrink: float = 0.0025):
        super().__init__()
        ch = [max(4, int(round(c * width))) for c in (96, 128, 256)] + [latent]
        enc, cin = [], 3
        for i, c in enumerate(ch):
            enc += [nn.Conv2d(cin, c, 3, 2, 1), nn.BatchNorm2d(c)]
            if i < len(ch) - 1:
                enc.append(nn.LeakyReLU(0.2, True))
            cin = c
        self.encoder = nn.Sequential(*enc)
        self.memory = MemAEMemory(slots, latent, shrink)
        dec, rev = [], ch[::-1] + [None]
        for a, b in zip(rev[:-1], rev[1:]):
            if b is None:
                dec += [nn.ConvTranspose2d(a, 3, 4, 2, 1), nn.Tanh()]
            else:
                dec += [nn.ConvTranspose2d(a, b, 4, 2, 1), nn.BatchNorm2d(b), nn.LeakyReLU(0.2, True)]
        self.decoder = nn.Sequential(*dec)

    def forward(self, x):
        z_hat, aux = self.memory(self.encoder(x))
        return self.decoder(z_hat), aux


@register("memae", label="MemAE")
class MemAE(ReconstructionDetector):
    """MemAE baseline: ``slots`` (128), ``latent`` (256), ``shrink`` (0.0025), ``entropy_weight``
    (0.0002), ``width`` channel multiplier (1 = original), ``epochs`` (200 in TrustMAE supp. B);
    training and scoring as in :class:`~.autoencoders.ReconstructionDetector` (default distance
    ``mse``)."""

    name = "memae"

    def __init__(self, slots: int = 128, latent: int = 256, shrink: float = 0.0025, entropy_weight: float = 0.0002,
                 width: float = 1.0, epochs: int = 200, **kw):
        check_params("memae", slots=(slots, "int>=1"), latent=(latent, "int>=1"), shrink=(shrink, "float[0,1)"),
                     entropy_weight=(entropy_weight, "float>=0"), width=(width, "float>0"))
        if not 0 <= shrink < 1:
            raise DefectbookError(f"MemAE shrink threshold must be in [0, 1), got {shrink}")
        super().__init__(epochs=epochs, **kw)
        self.slots, self.latent, self.shrink = int(slots), int(latent), float(shrink)
        self.entropy_weight, self.width = float(entropy_weight), width

    def _build(self, size):
        check_divisible(size, 16, "MemAE")
        return MemAEGenerator(self.width, self.latent, self.slots, self.shrink)

    def _loss(self, x, recon, aux):
        w = aux["weights"]
        mse = F.mse_loss(recon, x)
        ent = (-w * torch.log(w + 1e-12)).sum(1).mean()
        return mse + self.entropy_weight * ent, {"mse": mse.item(), "entropy": ent.item()}
