"""SPADE (Cohen & Hoshen, 2020): sub-image anomaly detection with deep pyramid correspondences.

Image level: the global average of the deepest requested layer (``global_layer``) is compared with
the training images' by Euclidean distance; the image score is the mean distance to the
``k_images`` nearest training images (paper: K = 50). Pixel level: the concatenated multi-layer
features (``layers``, upsampled to the largest map) of each test position are compared with the
features at all positions of those K nearest training images; the map is the mean distance to the
``k_pixels`` nearest (paper: kappa = 1), bilinearly upsampled and blurred (sigma 4).
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..components.backbones import FeatureExtractor, check_layers, check_weights
from ..components.features import concat_layers, iter_embeddings, to_image_maps
from ..components.memory import nearest
from ..utils import resolve_device
from .base import Detector, Prediction, check_params
from .registry import register


@register("spade", label="SPADE")
class SPADE(Detector):
    """SPADE. Parameters: ``backbone``, ``layers`` (pixel features), ``global_layer`` (image feature),
    ``weights``, ``k_images`` (50), ``k_pixels`` (1), ``sigma`` (4). With fewer training images than
    ``k_images`` (or gallery positions than ``k_pixels``) all of them are used; :meth:`extras` then
    records the values that ran (``effective_params``)."""

    name = "spade"

    def __init__(self, backbone: str = "efficientnet_lite0", layers: Sequence[str] = ("layer1", "layer2", "layer3"),
                 global_layer: str = "layer4", weights: str | None = None, k_images: int = 50, k_pixels: int = 1,
                 sigma: float = 4.0, seed: int = 0, batch_size: int = 16, device: str | None = "cpu"):
        check_params("spade", k_images=(k_images, "int>=1"), k_pixels=(k_pixels, "int>=1"), sigma=(sigma, "float>=0"),
                     seed=(seed, "int"), batch_size=(batch_size, "int>=1"))
        check_layers(backbone, [*layers, global_layer])                  # before any image is loaded
        check_weights(weights)
        self.backbone, self.layers, self.global_layer, self.weights = backbone, tuple(layers), global_layer, weights
        self.k_images, self.k_pixels, self.sigma = k_images, k_pixels, sigma
        self.seed, self.batch_size, self.device = seed, batch_size, device
        resolve_device(device)        # an unavailable device is a clear error here, not at fit

    _rebuilt = ("device_", "extractor_")

    def _rebuild(self) -> None:
        """On load: the frozen backbone, rebuilt from the parameters (not stored)."""
        self.extractor_ = FeatureExtractor(self.backbone, list(self.layers) + [self.global_layer], self.weights).to(
            self.device_
        )

    def _post(self, maps: list[torch.Tensor]) -> torch.Tensor:
        pix = concat_layers(maps[:-1])
        glob = maps[-1].mean((2, 3))                                         # [B, C_g]
        return torch.cat([pix.flatten(1), glob], 1)                          # packed per image

    def _embed(self, images: torch.Tensor, desc: str) -> tuple[torch.Tensor, torch.Tensor]:
        out = torch.cat(list(iter_embeddings(self.extractor_, images, self.batch_size, desc, self._post, self.device_)))
        cg = self.extractor_.channels[-1]
        pix = out[:, :-cg].view(out.shape[0], self.c_pix_, *self.shape_)
        return pix, out[:, -cg:]

    def _fit(self, images: torch.Tensor) -> None:
        self.device_ = resolve_device(self.device)
        self.extractor_ = FeatureExtractor(self.backbone, list(self.layers) + [self.global_layer],
                                           self.weights).to(self.device_)
        with torch.no_grad():
            probe = self.extractor_(images[:1].to(self.device_))
        self.c_pix_ = sum(self.extractor_.channels[:-1])
        self.shape_ = (max(m.shape[-2] for m in probe[:-1]), max(m.shape[-1] for m in probe[:-1]))
        self.train_pix_, self.train_glob_ = self._embed(images, "spade fit")

    def _predict(self, images: torch.Tensor) -> Prediction:
        pix, glob = self._embed(images, "spade predict")
        k = min(self.k_images, self.train_glob_.shape[0])
        gdist, gidx = nearest(glob, self.train_glob_, k)                     # [B, K]
        scores = gdist.mean(1)
        c = pix.shape[1]
        maps = []
        for i in range(pix.shape[0]):
            gallery = self.train_pix_[gidx[i]].permute(0, 2, 3, 1).reshape(-1, c)
            d, _ = nearest(pix[i].flatten(1).T, gallery, self.k_pixels)
            maps.append(d.mean(1).view(self.shape_))
        maps = to_image_maps(torch.stack(maps), images.shape[-2:], self.sigma)
        return Prediction(scores.cpu().numpy(), maps.cpu().numpy())

    def extras(self) -> dict:
        """``effective_params``: ``k_images`` / ``k_pixels`` as they ran, where the training set (or the
        gallery of ``k_images`` images' positions) was smaller than asked."""
        k = min(self.k_images, self.train_glob_.shape[0])
        gallery = k * self.shape_[0] * self.shape_[1]
        effective = {name: v for name, v, asked in (("k_images", k, self.k_images),
                                                     ("k_pixels", min(self.k_pixels, gallery), self.k_pixels))
                     if v != asked}
        return {"effective_params": effective} if effective else {}
