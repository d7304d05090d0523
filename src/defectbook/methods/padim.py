"""PaDiM (Defard et al., ICPR 2020 workshops): one Gaussian per feature-map position.

Features of several backbone layers are upsampled to the largest map and concatenated; ``d``
random channels are kept (paper: 100 of 448 for ResNet-18, 550 of 1792 for WRN-50); each
position gets a Gaussian with covariance ridge ``eps`` (0.01). The test map is the Mahalanobis
distance per position, bilinearly upsampled to the input and blurred with sigma = 4; the image
score is the map's maximum.
"""
from __future__ import annotations

from functools import partial
from typing import Sequence

import torch

from .. import DefectbookError
from ..components.backbones import FeatureExtractor, check_layers, check_weights
from ..components.features import concat_layers, iter_embeddings, select_channels, to_image_maps
from ..components.gaussian import PixelGaussians
from ..utils import resolve_device
from .base import Detector, Prediction, check_params
from .registry import register


def check_d(method: str, d: int | None, total: int, backbone: str, layers) -> None:
    """Refuse ``d`` above the ``total`` channels of the layers: that many cannot be drawn, and keeping
    all instead would record a ``d`` that never ran."""
    if d is not None and d > total:
        raise DefectbookError(f"{method}: d={d} exceeds the {total} channels of {backbone} {'+'.join(layers)}; "
                              f"choose d <= {total} (d={total} or None keeps them all)")


@register("padim", label="PaDiM")
class PaDiM(Detector):
    """PaDiM detector.

    Parameters: ``backbone`` and ``layers`` (see :mod:`defectbook.components.backbones`), ``weights``
    (None = ImageNet, a path, or ``"random"``), ``d`` random channels (None keeps all; more than the
    layers have is refused at fit), ``eps``
    covariance ridge, ``sigma`` blur of the upsampled map, ``seed`` for the channel draw.
    """

    name = "padim"

    def __init__(self, backbone: str = "efficientnet_lite0", layers: Sequence[str] = ("layer1", "layer2", "layer3"),
                 weights: str | None = None, d: int | None = 100, eps: float = 0.01, sigma: float = 4.0,
                 seed: int = 0, batch_size: int = 16, device: str | None = "cpu"):
        check_params("padim", d=(d, "int>=1?"), eps=(eps, "float>0"), sigma=(sigma, "float>=0"),
                     seed=(seed, "int"), batch_size=(batch_size, "int>=1"))
        check_layers(backbone, layers)                  # before any image is loaded
        check_weights(weights)
        self.backbone, self.layers, self.weights = backbone, tuple(layers), weights
        self.d, self.eps, self.sigma, self.seed = d, eps, sigma, seed
        self.batch_size, self.device = batch_size, device
        resolve_device(device)        # an unavailable device is a clear error here, not at fit

    _rebuilt = ("device_", "extractor_")

    def _rebuild(self) -> None:
        """On load: the frozen backbone, rebuilt from the parameters (not stored), and empty Gaussians
        (their buffers are stored)."""
        self.extractor_ = FeatureExtractor(self.backbone, self.layers, self.weights).to(self.device_)
        self.gaussians_ = PixelGaussians(self.eps)

    def _embeddings(self, images: torch.Tensor, desc: str):
        # the kept channels are picked per layer before upsampling (no copies of the dropped ones)
        yield from iter_embeddings(self.extractor_, images, self.batch_size, desc,
                                   partial(concat_layers, channels=self.idx_), self.device_)

    def _fit(self, images: torch.Tensor) -> None:
        self.device_ = resolve_device(self.device)
        self.extractor_ = FeatureExtractor(self.backbone, self.layers, self.weights).to(self.device_)
        check_d(self.name, self.d, sum(self.extractor_.channels), self.backbone, self.layers)
        self.idx_ = select_channels(sum(self.extractor_.channels), self.d, self.seed)
        if self.idx_ is not None:
            self.idx_ = self.idx_.to(self.device_)
        feats = torch.cat(list(self._embeddings(images, "padim fit")))   # [N, d, h, w]
        self.feature_shape_ = feats.shape[-2:]
        self.gaussians_ = PixelGaussians(self.eps).fit(feats.flatten(2))

    def _predict(self, images: torch.Tensor) -> Prediction:
        maps = []
        for emb in self._embeddings(images, "padim predict"):
            dist = self.gaussians_.score(emb.flatten(2)).view(-1, *self.feature_shape_)
            maps.append(to_image_maps(dist, images.shape[-2:], self.sigma))
        maps = torch.cat(maps)
        maps = maps.cpu()                                                     # results leave the device once
        return Prediction(maps.flatten(1).amax(1).numpy(), maps.numpy())
