"""The protocol every detector follows (scikit-learn style).

* parameters in ``__init__`` (plain values, so a config dict can build the detector);
* ``fit(images) -> self`` with ``images`` a float tensor ``[N, 3, H, W]`` in ``[0, 1]``
  (defect-free or, for the noisy protocol, mostly defect-free training images);
* ``predict(images) -> Prediction`` with ``image_scores [B]`` (higher = more anomalous) and
  ``maps [B, H, W]`` at input resolution (``None`` for image-level-only methods).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from .. import DefectbookError


@dataclass
class Prediction:
    """Detector output. ``image_scores``: ``[B]``; ``maps``: ``[B, H, W]`` or ``None``."""

    image_scores: np.ndarray
    maps: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.image_scores = np.asarray(self.image_scores, dtype=np.float64).reshape(-1)
        if self.maps is not None:
            self.maps = np.asarray(self.maps, dtype=np.float32)
            if self.maps.ndim != 3 or self.maps.shape[0] != self.image_scores.shape[0]:
                raise ValueError(f"maps must be [B, H, W] with B = {len(self.image_scores)}, got {self.maps.shape}")


class Detector:
    """Base class: input checks, batching and the fitted flag. Subclasses implement
    ``_fit(images)`` and ``_predict(images) -> Prediction``."""

    name = "detector"
    batch_size: int = 16

    def fit(self, images: torch.Tensor) -> "Detector":
        images = check_images(images, "training")
        self._fit(images)
        self.fitted_ = True
        return self

    def predict(self, images: torch.Tensor) -> Prediction:
        if not getattr(self, "fitted_", False):
            raise DefectbookError(f"{self.name}: call fit() before predict()")
        images = check_images(images, "test")
        return self._predict(images)

    def _fit(self, images: torch.Tensor) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict(self, images: torch.Tensor) -> Prediction:  # pragma: no cover - abstract
        raise NotImplementedError


def check_images(images: torch.Tensor, what: str) -> torch.Tensor:
    """Validate a batch of images: float ``[N, 3, H, W]`` in ``[0, 1]``, N >= 1."""
    if not isinstance(images, torch.Tensor):
        raise DefectbookError(f"{what} images must be a torch.Tensor [N, 3, H, W], got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise DefectbookError(f"{what} images must have shape [N, 3, H, W], got {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise DefectbookError(f"no {what} images")
    return images.float()


def batches(images: torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    """Consecutive slices of ``images`` of at most ``batch_size``."""
    for i in range(0, images.shape[0], batch_size):
        yield images[i : i + batch_size]
