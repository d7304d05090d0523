"""Image-size ensemble (N-pad, Table 4 "Ensemble"): one detector per image size, maps and scores averaged.

The paper combines N-pad at the 224 and the 336 crop. :class:`SizeEnsemble` is given images at the
largest size (the experiment's transform), fits one member per entry of ``sizes`` on the images resized
to that size (area-averaged down-sampling, so every member sees the same field of view), and at
prediction averages the members' image scores and their anomaly maps (each bilinearly resized to the
input size). The paper does not say how the two are combined; we average raw values, which suits
members of the same method whose scores share a scale.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import DefectbookError
from .base import Detector, Prediction, check_params
from .registry import build, register


def resize_images(images: torch.Tensor, size: int | None) -> torch.Tensor:
    """``images [N, 3, H, W]`` resized to ``size x size`` (area averaging down, bilinear up); None keeps them."""
    if size is None or tuple(images.shape[-2:]) == (size, size):
        return images
    mode = "area" if size < min(images.shape[-2:]) else "bilinear"
    kw = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(images, size=(size, size), mode=mode, **kw).clamp(0, 1)


@register("ensemble", label="ensemble")
class SizeEnsemble(Detector):
    """Members ``method`` (built with ``params``), one per entry of ``sizes`` (square sizes in pixels;
    None = the input size). ``fit`` / ``predict`` take images at the largest size."""

    name = "ensemble"

    def __init__(self, method: str = "npad", sizes: Sequence[int | None] = (224, 336), **params):
        for s in sizes or ():
            check_params("ensemble", sizes=(s, "int>=1?"))
        if method != self.name:
            build(method, **params)  # the members' parameters are checked now, not at fit
        if not sizes:
            raise DefectbookError("ensemble: give at least one image size")
        if method == self.name:
            raise DefectbookError("ensemble: the members cannot be ensembles themselves")
        self.method, self.sizes, self.params = method, [None if s is None else int(s) for s in sizes], params

    def _fit(self, images: torch.Tensor) -> None:
        self.members_ = nn.ModuleList(build(self.method, **self.params).fit(resize_images(images, s))
                                      for s in self.sizes)

    def _rebuild(self) -> None:
        """On load: the members, built from the parameters; each loads its own stored state."""
        self.members_ = nn.ModuleList(build(self.method, **self.params) for _ in self.sizes)

    def _predict(self, images: torch.Tensor) -> Prediction:
        h, w = images.shape[-2:]
        preds = [m.predict(resize_images(images, s)) for m, s in zip(self.members_, self.sizes)]
        scores = np.mean([p.image_scores for p in preds], axis=0)
        if any(p.maps is None for p in preds):
            return Prediction(scores)
        maps = [torch.from_numpy(p.maps)[:, None] for p in preds]
        maps = [m if m.shape[-2:] == (h, w) else F.interpolate(m, size=(h, w), mode="bilinear", align_corners=False)
                for m in maps]
        return Prediction(scores, torch.cat(maps, 1).mean(1).numpy())

    @property
    def extractor_(self):
        """The first member's feature extractor (for the provenance line)."""
        return getattr(self.members_[0], "extractor_", None) if hasattr(self, "members_") else None

    def extras(self) -> dict:
        return {"sizes": self.sizes, "method": self.method,
                "members": [m.extras() if hasattr(m, "extras") else {} for m in getattr(self, "members_", [])]}
