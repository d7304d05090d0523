"""Image and mask transforms of the papers' protocols, and DifferNet's tensor augmentations.

* :func:`make_transform` turns a PIL image into a float tensor ``[3, H, W]`` in ``[0, 1]``
  (resize to ``resize x resize``, then an optional centre crop ``crop x crop``). No normalisation:
  backbones normalise their input themselves.
* :func:`make_mask_transform` applies the same geometry to a mode-``L`` mask with nearest
  neighbours and returns ``[1, H, W]`` in ``{0, 1}``.
* :data:`PROTOCOLS` holds each method's ``(resize, crop)`` as published;
  :func:`protocol_transform` scales both (the ``cpu`` profile shrinks images).
* :func:`rotate`, :func:`random_rotation`, :func:`color_jitter`: batch augmentations on tensors
  ``[N, C, H, W]`` (DifferNet: rotations uniform in ``[0, 360)`` degrees, brightness and contrast
  factors uniform in ``[0.85, 1.15]``).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .. import DefectbookError

#: ``method -> (resize, crop)`` of the published protocols (``crop=None``: no crop).
PROTOCOLS: dict[str, tuple[int, int | None]] = {
    "padim": (256, 224),
    "patchcore": (256, 224),
    "npad": (256, 224),
    "spade": (256, 224),
    "trustmae": (256, None),
    "ndpnet": (256, None),
    "differnet": (448, None),
}


def _check_sizes(resize: int, crop: int | None) -> tuple[int, int | None]:
    try:
        resize = int(resize)
        crop = None if crop is None else int(crop)
    except (TypeError, ValueError):
        raise DefectbookError(f"image sizes must be integers, got resize={resize!r}, crop={crop!r}") from None
    if resize < 1:
        raise DefectbookError(f"resize must be a positive number of pixels, got {resize}")
    if crop is not None and not 1 <= crop <= resize:
        raise DefectbookError(f"crop must be between 1 and resize={resize}, got {crop}")
    return resize, crop


def _geometry(im: Image.Image, resize: int, crop: int | None, resample) -> Image.Image:
    if im.size != (resize, resize):
        im = im.resize((resize, resize), resample)
    if crop is not None and crop != resize:
        left = (resize - crop) // 2
        im = im.crop((left, left, left + crop, left + crop))
    return im


class ImageTransform:
    """PIL image -> float32 tensor ``[3, H, W]`` in ``[0, 1]`` (bilinear resize, centre crop).

    A class rather than a closure so that it pickles (data-loader workers) and prints its sizes.
    """

    def __init__(self, resize: int = 256, crop: int | None = None):
        self.resize, self.crop = _check_sizes(resize, crop)

    @property
    def size(self) -> int:
        """Side of the output image in pixels."""
        return self.crop or self.resize

    def __call__(self, im: Image.Image) -> torch.Tensor:
        im = _geometry(im.convert("RGB"), self.resize, self.crop, Image.BILINEAR)
        a = np.asarray(im, dtype=np.float32) / 255.0
        return torch.from_numpy(a.transpose(2, 0, 1).copy())

    def __repr__(self) -> str:
        return f"ImageTransform(resize={self.resize}, crop={self.crop})"


class MaskTransform(ImageTransform):
    """Mode-``L`` PIL mask -> float32 tensor ``[1, H, W]`` in ``{0, 1}`` (nearest neighbours)."""

    def __call__(self, im: Image.Image) -> torch.Tensor:
        im = _geometry(im.convert("L"), self.resize, self.crop, Image.NEAREST)
        a = (np.asarray(im) > 127).astype(np.float32)
        return torch.from_numpy(a[None].copy())

    def __repr__(self) -> str:
        return f"MaskTransform(resize={self.resize}, crop={self.crop})"


def make_transform(resize: int = 256, crop: int | None = None) -> ImageTransform:
    """Callable PIL image -> ``[3, crop or resize, crop or resize]`` float tensor in ``[0, 1]``."""
    return ImageTransform(resize, crop)


def make_mask_transform(resize: int = 256, crop: int | None = None) -> MaskTransform:
    """Callable mode-``L`` PIL mask -> ``[1, H, W]`` float tensor in ``{0, 1}``, same geometry."""
    return MaskTransform(resize, crop)


def protocol_sizes(method: str, scale: float = 1.0) -> tuple[int, int | None]:
    """``(resize, crop)`` of ``method``'s published protocol times ``scale`` (rounded)."""
    if method not in PROTOCOLS:
        raise DefectbookError(f"no image protocol for method {method!r}; known: {', '.join(PROTOCOLS)}")
    if not scale > 0:
        raise DefectbookError(f"scale must be positive, got {scale}")
    resize, crop = PROTOCOLS[method]
    return max(1, round(resize * scale)), (None if crop is None else max(1, round(crop * scale)))


def protocol_transform(method: str, scale: float = 1.0) -> ImageTransform:
    """The image transform of ``method``'s protocol with both sizes scaled by ``scale``."""
    return make_transform(*protocol_sizes(method, scale))


# --- tensor-level augmentations (DifferNet) ---------------------------------------------------------

def _check_batch(images: torch.Tensor) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise DefectbookError(f"augmentations take a batch [N, C, H, W], got {shape}")
    return images


def rotate(images: torch.Tensor, degrees) -> torch.Tensor:
    """Rotate a batch ``[N, C, H, W]`` about the image centre, bilinear, same size, zeros outside.

    ``degrees``: one angle for all images or one per image (sequence / tensor ``[N]``);
    positive angles turn counter-clockwise as displayed.
    """
    images = _check_batch(images)
    n = images.shape[0]
    ang = torch.as_tensor(degrees, dtype=torch.float32).reshape(-1)
    if ang.numel() == 1:
        ang = ang.expand(n)
    elif ang.numel() != n:
        raise DefectbookError(f"rotate: {ang.numel()} angles for {n} images")
    rad = ang * (math.pi / 180.0)
    c, s = torch.cos(rad), torch.sin(rad)
    h, w = images.shape[-2:]
    # affine_grid maps output coords to input coords in normalised [-1, 1] space; correct for aspect.
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = c, -s * h / w
    theta[:, 1, 0], theta[:, 1, 1] = s * w / h, c
    x = images.float()
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False).to(images.dtype)


def random_angles(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``[n]`` angles uniform in ``[0, 360)`` degrees."""
    return torch.rand(n, generator=generator) * 360.0


def random_rotation(images: torch.Tensor, generator: torch.Generator | None = None,
                    return_angles: bool = False):
    """Rotate each image of ``[N, C, H, W]`` by its own uniform angle in ``[0, 360)`` degrees.

    Returns the rotated batch, or ``(batch, angles [N])`` with ``return_angles=True`` (to rotate
    anomaly maps back).
    """
    images = _check_batch(images)
    ang = random_angles(images.shape[0], generator)
    out = rotate(images, ang)
    return (out, ang) if return_angles else out


def color_jitter(images: torch.Tensor, brightness: float = 0.15, contrast: float = 0.15,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-image brightness then contrast factors uniform in ``[1-b, 1+b]`` / ``[1-c, 1+c]``.

    Brightness multiplies the image; contrast blends with the image's mean grey level (as
    torchvision does). Input and output ``[N, C, H, W]`` in ``[0, 1]`` (clamped).
    """
    images = _check_batch(images)
    for name, v in (("brightness", brightness), ("contrast", contrast)):
        if not 0 <= v < 1:
            raise DefectbookError(f"color_jitter: {name} must be in [0, 1), got {v}")
    n = images.shape[0]
    x = images.float()
    b = 1 + (torch.rand(n, generator=generator) * 2 - 1) * brightness
    c = 1 + (torch.rand(n, generator=generator) * 2 - 1) * contrast
    x = (x * b.view(n, 1, 1, 1).to(x.device)).clamp(0, 1)
    if x.shape[1] == 3:
        grey = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    else:
        grey = x.mean(1)
    mean = grey.mean(dim=(-2, -1)).view(n, 1, 1, 1)
    x = (mean + c.view(n, 1, 1, 1).to(x.device) * (x - mean)).clamp(0, 1)
    return x.to(images.dtype)
