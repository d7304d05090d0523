"""Common data types of all loaders.

A dataset category is a list of :class:`Sample` records; a :class:`Split` holds the training and
test samples of one experiment.  Images are read lazily; :func:`load_images` turns samples into a
float tensor ``[N, 3, H, W]`` in ``[0, 1]`` (grayscale images are repeated to three channels) and
:func:`load_masks` into a ``{0, 1}`` tensor ``[N, H, W]``.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .. import DefectbookError


@dataclass(frozen=True)
class Sample:
    """One image of a dataset.

    ``label`` is 0 for a defect-free image, 1 for a defective one; ``defect`` names the defect type
    (``"good"`` for defect-free); ``mask`` is the path of the pixel mask, or ``None`` when the
    image is defect-free (empty mask) or the dataset has no masks for it.
    """

    path: Path
    label: int
    defect: str = "good"
    mask: Path | None = None
    category: str = ""
    #: None: the mask must hold two values, {0, 1} or {0, 255}; an int: a pixel is a defect where the
    #: mask is above it (for datasets with anti-aliased masks, e.g. MTD: the loader records it)
    mask_threshold: int | None = None


@dataclass
class Split:
    """Training and test samples of one experiment.

    ``has_masks`` is False when the test set carries no pixel ground truth: metrics are then
    image-level only and the result says so.  ``info`` records how the split was made.
    """

    train: list[Sample]
    test: list[Sample]
    has_masks: bool = True
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.train:
            raise DefectbookError(f"empty training split ({self.info.get('name', 'split')}): no training images")
        if not self.test:
            raise DefectbookError(f"empty test split ({self.info.get('name', 'split')}): no test images")
        overlap = {s.path for s in self.train} & {s.path for s in self.test}
        if overlap:
            raise DefectbookError(f"{len(overlap)} images are both in train and test, e.g. {sorted(overlap)[0]}")

    @property
    def test_labels(self) -> np.ndarray:
        return np.array([s.label for s in self.test], dtype=np.int64)


#: PIL modes converted to RGB by PIL itself (palette, alpha, CMYK, ... are handled correctly)
_RGB_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "RGBa", "La", "CMYK", "YCbCr", "LAB", "HSV")


@contextlib.contextmanager
def open_image(path: Path, what: str = "image") -> Iterator[Image.Image]:
    """``Image.open(path)``, refusing a decompression bomb: an image with more pixels than PIL's
    ``Image.MAX_IMAGE_PIXELS`` (PIL only warns up to twice that) is a :class:`DefectbookError` naming
    the file, before its pixels are decoded, so a tiny hostile file cannot take the machine's memory."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DefectbookError(_bomb_message(path, what, str(e))) from None
    with im:
        limit = Image.MAX_IMAGE_PIXELS
        if limit is not None and im.width * im.height > limit:
            raise DefectbookError(_bomb_message(path, what, f"{im.width}x{im.height} = {im.width * im.height} "
                                                            f"pixels exceeds the limit of {limit} pixels"))
        yield im


def _bomb_message(path: Path, what: str, detail: str) -> str:
    detail = detail.split(", could be")[0].rstrip(".")
    return (f"refusing {what} {path}: {detail} (a possible decompression bomb); replace the file, or raise "
            f"PIL.Image.MAX_IMAGE_PIXELS if the {what} is genuine")


def _to_8bit(arr: np.ndarray, path: Path, mode: str) -> np.ndarray:
    """Integer/float pixel array with a range above 8 bits -> uint8 in the same relative range."""
    if mode.startswith("I;16") or (mode == "I" and arr.min() >= 0 and arr.max() <= 65535):
        return np.round(arr.astype(np.float64) / 257.0).astype(np.uint8)     # 16-bit: 0..65535 -> 0..255
    if mode == "F" and np.isfinite(arr).all() and arr.min() >= 0 and arr.max() <= 1:
        return np.round(arr.astype(np.float64) * 255.0).astype(np.uint8)     # float image in [0, 1]
    raise DefectbookError(f"cannot read image {path}: mode {mode} with values in [{arr.min()}, {arr.max()}] is not "
                          f"supported; convert it to 8- or 16-bit grayscale or RGB")


def read_image(path: Path) -> Image.Image:
    """Open an image as 8-bit RGB; a clear error if it cannot be read.

    16-bit images (``I;16``, ``I``) keep their real range (scaled by 1/257); float images (``F``)
    must lie in [0, 1]; other modes PIL does not convert faithfully are rejected.
    """
    try:
        with open_image(path) as im:
            if im.mode in _RGB_MODES:
                return im.convert("RGB")
            if im.mode.startswith("I") or im.mode == "F":
                arr = np.asarray(im)
                return Image.fromarray(_to_8bit(arr, path, im.mode)).convert("RGB")
            raise DefectbookError(f"cannot read image {path}: unsupported image mode {im.mode}; "
                                  f"convert it to 8- or 16-bit grayscale or RGB")
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DefectbookError(f"cannot read image {path}: {e.__class__.__name__}") from None


def mask_array(path: Path, threshold: int | None = None) -> np.ndarray:
    """Pixel mask ``[H, W]`` uint8 in {0, 1} read from ``path``.

    Without ``threshold`` the file must be binary: values {0, 1} or {0, 255} (or {0, 65535} at
    16 bits, a bilevel or one-channel image); anything else is an error naming the file. With
    ``threshold`` a pixel is a defect where the (8-bit) mask is above it.
    """
    try:
        with open_image(path, "mask") as im:
            mode = im.mode
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DefectbookError(f"cannot read mask {path}: {e.__class__.__name__}") from None
    if arr.ndim == 3:  # RGB(A) mask: usable only when its colour channels agree
        if not (arr[..., :3] == arr[..., :1]).all():
            raise DefectbookError(
                f"mask {path} is a colour image with differing channels; save it as one-channel 0/255"
            )
        arr = arr[..., 0]
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    if mode.startswith("I;16") or (mode == "I" and arr.max() > 255):
        arr = arr.astype(np.float64) / 257.0
    if threshold is not None:
        return (arr > threshold).astype(np.uint8)
    values = np.unique(arr)
    top = values.max() if values.size else 0
    if not (set(values.tolist()) <= {0, 1} or set(values.tolist()) <= {0, 255}):
        shown = ", ".join(str(v) for v in values[:6].tolist()) + (", ..." if values.size > 6 else "")
        raise DefectbookError(
            f"mask {path} is not binary (values {shown}); masks must hold {{0, 1}} or {{0, 255}}: "
            f"binarise it (a loader may declare a threshold for a dataset with soft masks, as MTD does)"
        )
    return (arr > 0).astype(np.uint8) if top else np.zeros(arr.shape, np.uint8)


def read_mask(path: Path | None, size: tuple[int, int], threshold: int | None = None) -> np.ndarray:
    """Binary mask ``[H, W]`` (uint8 0/1) for an image of PIL ``size`` (W, H); zeros if ``path`` is None.

    See :func:`mask_array` for the values accepted and ``threshold``.
    """
    w, h = size
    if path is None:
        return np.zeros((h, w), dtype=np.uint8)
    m = mask_array(path, threshold)
    if m.shape != (h, w):
        raise DefectbookError(f"mask {path} is {m.shape[1]}x{m.shape[0]} but its image is {w}x{h}")
    return m


def load_images(samples: Sequence[Sample], transform: Callable[[Image.Image], torch.Tensor]) -> torch.Tensor:
    """Read and transform samples into one tensor ``[N, 3, H, W]``, float32 in ``[0, 1]``."""
    if len(samples) == 0:
        raise DefectbookError("no images to load")
    return torch.stack([transform(read_image(s.path)) for s in samples])


def load_masks(samples: Sequence[Sample], transform: Callable[[Image.Image], torch.Tensor]) -> torch.Tensor:
    """Read masks and apply the geometric part of ``transform``: ``[N, H, W]`` float32 in ``{0, 1}``.

    ``transform`` must accept a mode-``L`` PIL image and return ``[1, H, W]`` (see
    :mod:`defectbook.data.transforms`), resampled with nearest neighbours.
    """
    out = []
    for s in samples:
        m = Image.fromarray(read_mask(s.mask, image_size(s.path), s.mask_threshold) * 255)
        out.append((transform(m)[0] > 0.5).float())
    return torch.stack(out)


# --- helpers shared by the loaders (added; the names above are the stable API) ---------------------

#: File suffixes (lower case) read as images by every loader.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def image_size(path: Path) -> tuple[int, int]:
    """PIL ``size`` ``(W, H)`` of an image file, reading only its header; a clear error if unreadable."""
    try:
        with open_image(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError) as e:
        raise DefectbookError(f"cannot read image {path}: {e.__class__.__name__}") from None


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder`` (see :data:`IMAGE_SUFFIXES`), sorted by name."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))


def seeded_rng(seed: int, *keys) -> "np.random.Generator":
    """A numpy generator determined by ``seed`` and extra integer/string ``keys`` (platform-stable)."""
    import zlib

    ints = [int(seed)] + [zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(ints))


def category_dir(root: Path | str, category: str, dataset: str = "dataset") -> Path:
    """``root / category``, refused when ``category`` could lead outside ``root``.

    A category is a folder name under the data root; an absolute path, a ``..`` part (``../../etc``) or
    the root itself (``.``) is a :class:`DefectbookError` naming the category and the root. Symbolic
    links are not followed for the test, so a category folder that links to another disk (a user's own
    layout) keeps working. The path returned is ``root / category`` as given.
    """
    root = Path(root)
    text = str(category)
    parts = Path(text).parts
    if os.path.isabs(text) or ".." in parts or not [p for p in parts if p != "."] or "\0" in text:
        raise DefectbookError(f"{dataset} category {text!r} is not a folder inside the data root {root}: "
                              f"give the name of a category folder under {root}, not a path")
    return root / text
