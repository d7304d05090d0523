"""PatchCore (Roth et al., CVPR 2022): a coreset memory bank of locally aware patch features.

Each layer's map is averaged over a ``patch_size x patch_size`` neighbourhood (locally aware patch
features), deeper maps are bilinearly upsampled to the largest, the channels concatenated and
reduced to ``target_dim`` by adaptive average pooling over the channel axis. A greedy k-center
coreset of ``coreset_ratio`` of all training patches (on a ``proj_dim`` random projection) is the
memory bank. A test patch's score is the distance to its nearest memory patch; the map is
upsampled and blurred (sigma 4). The image score is the largest patch score ``s*``, re-weighted
as in the paper (Eq. 7): ``s = (1 - exp(|m_test - m*|) / sum_{m in N_b(m*)} exp(|m_test - m|)) s*``
with ``m*`` the nearest memory patch of the maximising test patch and ``N_b(m*)`` its ``b`` nearest
memory patches.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from .. import DefectbookError
from ..components.backbones import FeatureExtractor, check_layers, check_weights
from ..components.features import iter_embeddings, local_average, to_image_maps
from ..components.memory import greedy_coreset, nearest
from ..utils import resolve_device
from .base import Detector, Prediction, check_params
from .registry import register


def patch_features(maps: list[torch.Tensor], patch_size: int = 3, target_dim: int | None = 1024) -> torch.Tensor:
    """Locally aware patch features ``[B, D, h, w]`` from layer maps ``[B, C_l, h_l, w_l]``."""
    pad = patch_size // 2
    out = []
    h, w = max(m.shape[-2] for m in maps), max(m.shape[-1] for m in maps)
    for m in maps:
        if patch_size > 1 and patch_size % 2:
            m = local_average(m, pad)        # = avg_pool2d(count_include_pad=False), faster
        elif patch_size > 1:
            m = F.avg_pool2d(m, patch_size, stride=1, padding=pad, count_include_pad=False)
        if m.shape[-2:] != (h, w):
            m = F.interpolate(m, size=(h, w), mode="bilinear", align_corners=False)
        out.append(m)
    x = torch.cat(out, 1)
    if target_dim is not None and target_dim < x.shape[1]:
        b, c = x.shape[:2]
        x = F.adaptive_avg_pool1d(x.permute(0, 2, 3, 1).reshape(-1, 1, c), target_dim)
        x = x.view(b, h, w, target_dim).permute(0, 3, 1, 2)
    return x.contiguous()


def reweighted_score(test_patch: torch.Tensor, memory: torch.Tensor, star: int, s_star: torch.Tensor,
                     b: int = 9) -> torch.Tensor:
    """PatchCore Eq. 7 for one image: ``test_patch [D]`` (the maximising patch), ``star`` its nearest memory
    index, ``s_star`` its distance; ``b`` neighbours of ``memory[star]`` in the memory bank."""
    if b <= 0:
        return s_star
    _, nb = nearest(memory[star][None], memory, min(b, memory.shape[0]))
    d = (memory[nb[0]] - test_patch[None]).norm(dim=1)                      # distances to N_b(m*)
    # softmax-style weight written stably: exp(s*) / sum exp(d) = 1 / sum exp(d - s*)
    w = 1 - 1 / torch.exp(d - s_star).sum()
    return w * s_star


@register("patchcore", label="PatchCore")
class PatchCore(Detector):
    """PatchCore. Parameters: ``backbone``, ``layers`` (paper: WRN-50 layers 2 and 3), ``weights``,
    ``patch_size`` (3), ``target_dim`` (1024; None keeps all), ``coreset_ratio`` (0.1; 1 keeps all),
    ``proj_dim`` (128), ``num_neighbors`` ``b`` of the re-weighting (9; 0 = plain maximum), ``sigma`` (4).
    Values the features or the bank are too small for are recorded as they ran (:meth:`extras`)."""

    name = "patchcore"

    def __init__(self, backbone: str = "efficientnet_lite0", layers: Sequence[str] = ("layer2", "layer3"),
                 weights: str | None = None, patch_size: int = 3, target_dim: int | None = 1024,
                 coreset_ratio: float = 0.1, proj_dim: int | None = 128, num_neighbors: int = 9, sigma: float = 4.0,
                 seed: int = 0, batch_size: int = 16, device: str | None = "cpu"):
        check_params("patchcore", patch_size=(patch_size, "int>=1"), target_dim=(target_dim, "int>=1?"),
                     coreset_ratio=(coreset_ratio, "float(0,1]"), proj_dim=(proj_dim, "int>=1?"),
                     num_neighbors=(num_neighbors, "int>=0"), sigma=(sigma, "float>=0"), seed=(seed, "int"),
                     batch_size=(batch_size, "int>=1"))
        if not 0 < coreset_ratio <= 1:
            raise DefectbookError(f"coreset_ratio must be in (0, 1], got {coreset_ratio}")
        check_layers(backbone, layers)                  # before any image is loaded
        check_weights(weights)
        self.backbone, self.layers, self.weights = backbone, tuple(layers), weights
        self.patch_size, self.target_dim, self.coreset_ratio = patch_size, target_dim, coreset_ratio
        self.proj_dim, self.num_neighbors, self.sigma = proj_dim, num_neighbors, sigma
        self.seed, self.batch_size, self.device = seed, batch_size, device
        resolve_device(device)        # an unavailable device is a clear error here, not at fit

    _rebuilt = ("device_", "extractor_")

    def _rebuild(self) -> None:
        """On load: the frozen backbone, rebuilt from the parameters (not stored)."""
        self.extractor_ = FeatureExtractor(self.backbone, self.layers, self.weights).to(self.device_)

    def _post(self, maps: list[torch.Tensor]) -> torch.Tensor:
        return patch_features(maps, self.patch_size, self.target_dim)

    def _embed(self, images: torch.Tensor, desc: str) -> torch.Tensor:
        return torch.cat(list(iter_embeddings(self.extractor_, images, self.batch_size, desc, self._post,
                                              self.device_)))

    def _fit(self, images: torch.Tensor) -> None:
        self.device_ = resolve_device(self.device)
        self.extractor_ = FeatureExtractor(self.backbone, self.layers, self.weights).to(self.device_)
        feats = self._embed(images, "patchcore fit")                         # [N, D, h, w]
        self.shape_ = feats.shape[-2:]
        bank = feats.permute(0, 2, 3, 1).reshape(-1, feats.shape[1])
        m = max(1, round(self.coreset_ratio * bank.shape[0]))
        self.n_patches_ = bank.shape[0]
        self.memory_ = bank[greedy_coreset(bank, m, self.proj_dim, self.seed)].contiguous()

    def _predict(self, images: torch.Tensor) -> Prediction:
        feats = self._embed(images, "patchcore predict")
        b, dim, h, w = feats.shape
        patches = feats.permute(0, 2, 3, 1).reshape(b, h * w, dim)
        dist, idx = nearest(patches.reshape(-1, dim), self.memory_, 1)
        dist, idx = dist.view(b, h * w), idx.view(b, h * w)
        scores = []
        for i in range(b):
            j = int(dist[i].argmax())
            scores.append(float(reweighted_score(patches[i, j], self.memory_, int(idx[i, j]), dist[i, j],
                                                 self.num_neighbors)))
        maps = to_image_maps(dist.view(b, h, w), images.shape[-2:], self.sigma)
        return Prediction(scores, maps.cpu().numpy())

    def extras(self) -> dict:
        """Memory-bank size; ``effective_params``: the parameters that ran otherwise than asked, where the
        features or the bank were smaller (``target_dim`` above the layers' channels keeps them all,
        ``proj_dim`` not below the patch dimension measures the coreset on the patches themselves (None),
        ``num_neighbors`` above the memory size uses the whole bank)."""
        m, dim = int(self.memory_.shape[0]), int(self.memory_.shape[1])
        out = {"memory_size": m, "n_patches": int(self.n_patches_), "patch_dim": dim}
        effective = {}
        if self.target_dim is not None and self.target_dim > dim:
            effective["target_dim"] = dim
        if self.proj_dim is not None and self.proj_dim >= dim and m < self.n_patches_:
            effective["proj_dim"] = None
        if self.num_neighbors > m:
            effective["num_neighbors"] = m
        if effective:
            out["effective_params"] = effective
        return out
