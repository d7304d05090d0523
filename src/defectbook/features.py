"""Shared feature plumbing of the feature-based methods (PaDiM, N-pad, PatchCore, SPADE).

* :func:`extract` runs a :class:`~defectbook.backbones.FeatureExtractor` over images in batches.
* :func:`concat_layers` upsamples every layer to the largest map and concatenates channels.
* :func:`select_channels` draws PaDiM's random channel subset.
* :func:`gaussian_blur` and :func:`to_image_maps` turn feature-resolution score maps into
  image-resolution anomaly maps (bilinear upsampling, Gaussian blur sigma 4 as in PaDiM/PatchCore).
"""
from __future__ import annotations

import math
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from .utils import progress


def concat_layers(maps: list[torch.Tensor], mode: str = "nearest") -> torch.Tensor:
    """Upsample each ``[B, C_l, h_l, w_l]`` to the largest ``h x w`` and concatenate: ``[B, sum C_l, h, w]``."""
    h, w = max(m.shape[-2] for m in maps), max(m.shape[-1] for m in maps)
    out = [m if m.shape[-2:] == (h, w) else F.interpolate(m, size=(h, w), mode=mode) for m in maps]
    return torch.cat(out, dim=1)


def iter_embeddings(extractor: Callable[[torch.Tensor], list[torch.Tensor]], images: torch.Tensor,
                    batch_size: int = 16, desc: str = "features",
                    post: Callable[[list[torch.Tensor]], torch.Tensor] = concat_layers,
                    device: torch.device | str = "cpu") -> Iterator[torch.Tensor]:
    """Yield ``post(extractor(batch))`` for consecutive batches of ``images`` ``[N, 3, H, W]``, on ``device``
    (the features stay where the backbone ran: no copy back to the CPU per batch)."""
    n_batches = math.ceil(images.shape[0] / batch_size)
    with torch.no_grad():
        for i in progress(range(n_batches), desc=desc):
            batch = images[i * batch_size:(i + 1) * batch_size].to(device)
            yield post(padded_call(extractor, batch, batch_size))


def padded_call(fn: Callable[[torch.Tensor], object], batch: torch.Tensor, size: int):
    """``fn(batch)`` computed on a batch of exactly ``size`` images (a shorter batch is padded with
    copies of its last image, the extra outputs dropped): CPU convolutions pick their algorithm by
    batch shape, so the last, smaller batch would otherwise score identical images differently
    (float noise that decides AUROC between ties). ``fn`` returns a tensor or a list of tensors."""
    n = batch.shape[0]
    if n >= size:
        return fn(batch)
    out = fn(pad_batch(batch, size))
    return [o[:n] for o in out] if isinstance(out, (list, tuple)) else out[:n]


def pad_batch(batch: torch.Tensor, size: int) -> torch.Tensor:
    """``batch [n, ...]`` extended to ``size`` rows with copies of its last row (unchanged if n >= size)."""
    n = batch.shape[0]
    return batch if n >= size else torch.cat([batch, batch[-1:].expand(size - n, *batch.shape[1:])])


def extract(extractor: Callable[[torch.Tensor], list[torch.Tensor]], images: torch.Tensor, batch_size: int = 16,
            desc: str = "features", post: Callable[[list[torch.Tensor]], torch.Tensor] = concat_layers,
            device: torch.device | str = "cpu") -> torch.Tensor:
    """All embeddings at once: ``[N, C, h, w]`` (see :func:`iter_embeddings`)."""
    return torch.cat(list(iter_embeddings(extractor, images, batch_size, desc, post, device)))


def select_channels(total: int, d: int | None, seed: int = 0) -> torch.Tensor | None:
    """Indices of ``d`` of ``total`` channels drawn uniformly without replacement (seeded); None keeps all."""
    if d is None or d >= total:
        return None
    if d < 1:
        raise ValueError(f"number of channels must be >= 1, got {d}")
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=g)[:d].sort().values


def gaussian_kernel1d(sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian of radius ``4 sigma`` (the kernel size PaDiM/anomalib use)."""
    radius = max(1, int(4 * sigma + 0.5))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(maps: torch.Tensor, sigma: float = 4.0) -> torch.Tensor:
    """Separable Gaussian blur of ``[B, H, W]`` maps with reflect padding; ``sigma <= 0`` is the identity."""
    if sigma <= 0:
        return maps
    k = gaussian_kernel1d(sigma).to(maps)
    r = k.numel() // 2
    x = maps[:, None]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect" if r < x.shape[-1] else "replicate"), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect" if r < x.shape[-2] else "replicate"), k.view(1, 1, -1, 1))
    return x[:, 0]


def to_image_maps(scores: torch.Tensor, size: tuple[int, int], sigma: float = 4.0) -> torch.Tensor:
    """``[B, h, w]`` feature-resolution scores -> ``[B, H, W]`` (bilinear upsampling, then blur)."""
    up = F.interpolate(scores[:, None].float(), size=size, mode="bilinear", align_corners=False)[:, 0]
    return gaussian_blur(up, sigma)


def shift_images(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Translate ``[B, C, H, W]`` by ``(dy, dx)`` pixels (content moves down/right for positive values);
    the uncovered border repeats the edge (replicate padding), so nothing wraps around."""
    if dy == 0 and dx == 0:
        return x
    h, w = x.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        raise ValueError(f"shift ({dy}, {dx}) exceeds the image size {h} x {w}")
    pad = (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0))
    squeeze = x.ndim == 3
    xp = F.pad(x[:, None] if squeeze else x, pad, mode="replicate")
    out = xp[..., max(-dy, 0):max(-dy, 0) + h, max(-dx, 0):max(-dx, 0) + w]
    return out[:, 0] if squeeze else out


def positive_counts(features: torch.Tensor) -> torch.Tensor:
    """Number of positive (non-zero after ReLU) values per channel of ``[N, C, h, w]``: ``[C]``."""
    return (features > 0).sum((0, 2, 3))


def local_average(features: torch.Tensor, radius: int) -> torch.Tensor:
    """Average of each ``[B, C, h, w]`` feature over its ``(2r+1)^2`` neighbourhood (positions outside
    the map are left out of the average); ``radius = 0`` is the identity."""
    if radius <= 0:
        return features
    # a depthwise box convolution divided by the in-map count: the same numbers as
    # avg_pool2d(count_include_pad=False), several times faster on the CPU
    c, (h, w) = features.shape[1], features.shape[-2:]
    k = 2 * radius + 1
    box = torch.ones(c, 1, k, k, dtype=features.dtype, device=features.device)
    total = F.conv2d(features, box, padding=radius, groups=c)
    count = F.conv2d(torch.ones(1, 1, h, w, dtype=features.dtype, device=features.device), box[:1], padding=radius)
    return total / count
