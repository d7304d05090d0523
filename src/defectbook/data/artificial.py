"""Artificial defects for self-supervised training (DRAEM, Zavrtanik et al. 2021; NDP-Net Eq. 1).

``I_ad = I_o * (1 - I_m) + I_n * I_m`` with ``I_o`` a defect-free image, ``I_n`` a natural image
(ImageNet in DRAEM and NDP-Net) and ``I_m`` a binary mask obtained by thresholding Perlin noise.

No ImageNet on the build machine: the default natural images are the photographs and textures
bundled with scikit-image (:data:`SKIMAGE_IMAGES`, available offline); ``natural_images=<folder>``
uses every ``.png``/``.jpg`` under a folder instead (ImageNet, DTD on a server).

Everything is seeded: :class:`ArtificialDefects` owns a ``numpy`` generator built from ``seed``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import DefectbookError

#: scikit-image's bundled images used as the offline natural-image source (textures and photos)
SKIMAGE_IMAGES = ("brick", "grass", "gravel", "coffee", "chelsea", "astronaut", "rocket", "colorwheel",
                  "hubble_deep_field", "immunohistochemistry", "retina", "camera", "moon", "page", "text")


def compose(original: torch.Tensor, natural: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 1: ``original * (1 - mask) + natural * mask``.

    ``original, natural``: ``[B, C, H, W]``; ``mask``: ``[B, 1, H, W]`` (or ``[B, C, H, W]``) in [0, 1].
    """
    if original.shape != natural.shape or mask.shape[0] != original.shape[0] or mask.shape[-2:] != original.shape[-2:]:
        raise DefectbookError(f"compose needs images of one shape and a matching mask, got {tuple(original.shape)}, "
                              f"{tuple(natural.shape)} and {tuple(mask.shape)}")
    return original * (1 - mask) + natural * mask


def perlin_noise(shape: tuple[int, int], res: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """2-D gradient (Perlin) noise ``[H, W]`` in about [-1, 1] with ``res`` lattice cells per axis
    (quintic fade; the noise is computed on a lattice-aligned grid and cropped to ``shape``)."""
    ry, rx = int(res[0]), int(res[1])
    h = int(np.ceil(shape[0] / ry) * ry)
    w = int(np.ceil(shape[1] / rx) * rx)
    angles = 2 * np.pi * rng.random((ry + 1, rx + 1))
    grad = np.stack([np.cos(angles), np.sin(angles)], -1)                     # [ry+1, rx+1, 2]
    y = np.arange(h) * ry / h
    x = np.arange(w) * rx / w
    yi, xi = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = (y - yi)[:, None], (x - xi)[None, :]
    Y, X = yi[:, None], xi[None, :]

    def dot(dy, dx):
        g = grad[Y + dy, X + dx]
        return g[..., 0] * (fx - dx) + g[..., 1] * (fy - dy)

    fade = lambda t: 6 * t ** 5 - 15 * t ** 4 + 10 * t ** 3  # noqa: E731
    u, v = fade(fx), fade(fy)
    top = dot(0, 0) * (1 - u) + dot(0, 1) * u
    bottom = dot(1, 0) * (1 - u) + dot(1, 1) * u
    return (np.sqrt(2) * (top * (1 - v) + bottom * v))[: shape[0], : shape[1]]


def perlin_mask(shape: tuple[int, int], rng: np.random.Generator, threshold: float = 0.5,
                max_scale_exp: int = 6, min_scale_exp: int = 0) -> np.ndarray:
    """A binary mask ``[H, W]`` (float32 0/1) as in DRAEM: Perlin noise with ``2^a x 2^b`` lattice
    cells (``a, b`` uniform in ``[min_scale_exp, max_scale_exp)``), thresholded at ``threshold``.
    Retries (at most 20 times) until the mask is not empty."""
    for _ in range(20):
        a, b = rng.integers(min_scale_exp, max_scale_exp, size=2)
        m = (perlin_noise(shape, (2 ** a, 2 ** b), rng) > threshold).astype(np.float32)
        if m.any():
            return m
    return m


def _to_rgb(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    a = a.astype(np.float32) / (255.0 if a.dtype == np.uint8 else (65535.0 if a.dtype == np.uint16 else 1.0))
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, -1)
    return np.clip(a[..., :3], 0, 1)


@lru_cache(maxsize=4)
def load_natural_images(folder: str | None = None, max_side: int = 256) -> tuple[torch.Tensor, ...]:
    """The natural images ``I_n``: tensors ``[3, h, w]`` in [0, 1] (longest side at most ``max_side``).

    ``folder=None``: scikit-image's bundled images (:data:`SKIMAGE_IMAGES`); otherwise every
    ``.png``/``.jpg``/``.jpeg`` under ``folder`` (sorted, recursive)."""
    if folder is None:
        import skimage.data

        arrays = [getattr(skimage.data, n)() for n in SKIMAGE_IMAGES if hasattr(skimage.data, n)]
    else:
        from .base import read_image  # checked like any data image (size limit, mode, readable)

        files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        if not files:
            raise DefectbookError(f"no .png/.jpg natural images under {folder}")
        arrays = [np.asarray(read_image(p)) for p in files]
    out = []
    for a in arrays:
        t = torch.from_numpy(_to_rgb(a)).permute(2, 0, 1).contiguous()
        s = max_side / max(t.shape[-2:])
        if s < 1:
            t = F.interpolate(t[None], scale_factor=s, mode="area")[0]
        out.append(t)
    return tuple(out)


class ArtificialDefects:
    """Seeded artificial-defect generator (Eq. 1 with Perlin masks).

    ``ArtificialDefects(seed=0)(images [B, 3, H, W] in [0, 1]) -> (defective [B, 3, H, W], masks [B, 1, H, W])``.
    Each image gets a defect with probability ``p_defect`` (DRAEM: 0.5; an image without one is
    returned unchanged with an empty mask, so the segmentation also sees defect-free inputs).
    ``I_n`` is a random crop (side 1/4 to 1 of the natural image's short side) resized to ``H x W``.
    ``natural_images``: None (scikit-image's images) or a folder.
    """

    def __init__(self, natural_images: str | None = None, seed: int = 0, p_defect: float = 0.5,
                 threshold: float = 0.5, max_scale_exp: int = 6):
        if not 0 <= p_defect <= 1:
            raise DefectbookError(f"p_defect must be in [0, 1], got {p_defect}")
        self.folder = str(natural_images) if natural_images else None
        self.p_defect, self.threshold, self.max_scale_exp = float(p_defect), float(threshold), int(max_scale_exp)
        self.rng = np.random.default_rng(seed)
        self.sources = load_natural_images(self.folder)

    def natural(self, size: tuple[int, int]) -> torch.Tensor:
        """One random natural crop ``[3, H, W]`` in [0, 1]."""
        src = self.sources[self.rng.integers(len(self.sources))]
        h, w = src.shape[-2:]
        side = int(min(h, w) * self.rng.uniform(0.25, 1.0))
        y, x = self.rng.integers(0, h - side + 1), self.rng.integers(0, w - side + 1)
        crop = src[:, y : y + side, x : x + side]
        return F.interpolate(crop[None], size=size, mode="bilinear", align_corners=False)[0].clamp(0, 1)

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if images.ndim != 4:
            raise DefectbookError(f"artificial defects need [B, C, H, W] images, got {tuple(images.shape)}")
        b, c, h, w = images.shape
        masks = torch.zeros(b, 1, h, w)
        nat = images.detach().cpu().clone()
        for i in range(b):
            if self.rng.random() < self.p_defect:
                masks[i, 0] = torch.from_numpy(perlin_mask((h, w), self.rng, self.threshold, self.max_scale_exp))
                nat[i] = self.natural((h, w))[:c]
        masks, nat = masks.to(images.device, images.dtype), nat.to(images.device, images.dtype)
        return compose(images, nat, masks), masks
