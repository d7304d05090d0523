"""N-pad (Jang, Baek et al.): neighbouring-pixel-based anomaly detection.

Our reading of the paper's lost equations is ``shared/design/NPAD_MATH.md``; each open choice is a
parameter. Shapes: ``N`` training images, ``d`` kept channels, ``h x w = P`` feature positions,
``K = (2r+1)^2`` neighbours.

Fit: backbone features of several layers (nearest-upsampled, concatenated), ``d`` channels kept by
``channel_rule``; per-position moments; neighbour weights (Bhattacharyya coefficient tempered by
``beta``, or uniform / random for Table 5) over radius ``train_radius``; weighted Gaussians (A);
Gaussians of the neighbourhood-averaged features (B); k-means centroids of all averaged training
vectors (``kmeans_ratio`` of their number). Precisions are stored packed (upper triangles).

Predict: for each of the ``4s + 1`` shifted copies of an image (``shift_mode="axes"``):
``A_p = min over q in N_ri(p) of Mahalanobis(x_p; G~_q)`` (C: neighbour-min; radius 0 without it),
``B_p = Mahalanobis(xbar_p; Gbar_p)``, ``S = sqrt(A * B)``; image score = mean over the top-k pixels of
``sqrt(M_(i) * E_(i))`` with ``M`` the top-k map values and ``E`` the nearest-centroid distances of
those pixels, both sorted ascending. Maps are upsampled, shifted back, averaged over shifts and
blurred (sigma 4); image scores are averaged over shifts.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Sequence

import torch
import torch.nn.functional as F

from .. import DefectbookError
from ..components.backbones import FeatureExtractor, check_layers, check_weights
from ..components.features import (
    concat_layers,
    gaussian_blur,
    iter_embeddings,
    local_average,
    positive_counts,
    select_channels,
    shift_images,
)
from ..components.gaussian import (
    mahalanobis_packed,
    moments,
    neighbour_weights,
    packed_precisions,
    packed_size,
    unpack_symmetric,
    weighted_gaussians,
)
from ..components.memory import kmeans, kmeans_two_level, nearest
from ..utils import progress, resolve_device
from .base import Detector, Prediction, check_params
from .padim import check_d
from .registry import register

CHANNEL_RULES = ("fewest_zeros", "most_zeros", "random")
#: The switch sets of the paper's Table 3 (A: weighted Gaussians, B: aggregated features, C: neighbour-min,
#: D: image shifting); "N-pad" is the full method.
ABLATIONS = {
    "Exper1": dict(use_aggregated=False, use_neighbour_min=False, use_shift=False),
    "Exper2": dict(use_weighted=False, use_shift=False),
    "Exper3": dict(use_neighbour_min=False, use_shift=False),
    "Exper4": dict(use_aggregated=False, use_shift=False),
    "Exper5": dict(use_shift=False),
    "N-pad": dict(),
}
#: Image scores recorded beside the configured one (Eq. 12-14 is lost; these are the other readings):
#: the mean of the top-k map values without centroid distances, the single largest value with and
#: without its centroid distance, and the maximum of the final blurred image-resolution map (PaDiM's rule).
SCORE_VARIANTS = {"topk_mean": "mean of the top-k M values, no centroids",
                  "top1_map": "largest M value",
                  "top1_centroid": "sqrt(largest M value x its centroid distance)",
                  "map_max": "maximum of the final anomaly map (PaDiM's rule)"}
WEIGHTINGS = ("bhattacharyya", "uniform", "random")


def select_by_rule(features: torch.Tensor, d: int | None, rule: str, seed: int = 0) -> torch.Tensor | None:
    """Indices ``[d]`` of channels of ``features [N, C, h, w]`` kept by ``rule``.

    ``"fewest_zeros"``: the ``d`` channels with the most positive values (the paper's motivation:
    ReLU zeros distort the Gaussian); ``"most_zeros"``: the ``d`` with the fewest positive values (the
    paper's literal wording, "least nonzero values"); ``"random"``: PaDiM's seeded random draw.
    Ties keep the lower channel index. ``d = None`` or ``d >= C`` keeps all (None).
    """
    c = features.shape[1]
    if rule not in CHANNEL_RULES:
        raise DefectbookError(f"unknown channel_rule {rule!r}; known: {', '.join(CHANNEL_RULES)}")
    if rule == "random" or d is None or d >= c:
        return select_channels(c, d, seed)
    counts = positive_counts(features).double()
    order = torch.argsort(-counts if rule == "fewest_zeros" else counts, stable=True)
    return order[:d].sort().values


def shift_offsets(s: int, mode: str = "axes") -> list[tuple[int, int]]:
    """Shifts ``(dy, dx)``: ``"axes"`` = (0, 0) and +-1..+-s along each axis (4s + 1); ``"grid"`` = all of
    ``{-s..s}^2`` ((2s + 1)^2)."""
    if s < 0:
        raise DefectbookError(f"shift must be >= 0, got {s}")
    if mode == "axes":
        out = [(0, 0)]
        for k in range(1, s + 1):
            out += [(k, 0), (-k, 0), (0, k), (0, -k)]
        return out
    if mode == "grid":
        return [(0, 0)] + [(dy, dx) for dy in range(-s, s + 1) for dx in range(-s, s + 1) if (dy, dx) != (0, 0)]
    raise DefectbookError(f"unknown shift_mode {mode!r}; known: axes, grid")


def topk_image_score(m: torch.Tensor, e: torch.Tensor | None) -> torch.Tensor:
    """Eq. 12-14: ``m [B, k]`` top-k map values, ``e [B, k]`` centroid distances of the same pixels (or
    None: mean of ``m``); both sorted ascending, paired by rank: ``mean_i sqrt(m_(i) e_(i))`` -> ``[B]``."""
    m = m.sort(1).values
    if e is None:
        return m.mean(1)
    return (m * e.sort(1).values).clamp_min(0).sqrt().mean(1)


@register("npad", label="N-pad", record_version=2)
class NPad(Detector):
    """N-pad detector (see the module docstring and NPAD_MATH.md).

    Parameters
    ----------
    backbone, layers, weights, d, eps, sigma, batch_size, device: as PaDiM.
    channel_rule: ``"fewest_zeros"`` | ``"most_zeros"`` | ``"random"`` (Fig. 2(e)).
    train_radius: neighbourhood radius of the weighted Gaussians and the feature averaging (paper 3).
    infer_radius: radius of the neighbour-min at inference (paper 2).
    agg_radius: radius of the feature averaging of module B (None: ``train_radius``).
    beta: Bhattacharyya temperature (paper 0.25; 1 = textbook distance).
    weighting: ``"bhattacharyya"`` | ``"uniform"`` (1/n) | ``"random"`` (Table 5).
    ddof: 0 divides the weighted covariance by N (Eq. 6); 1 by N - 1 (PaDiM).
    kmeans_ratio: centroids as a fraction of all training feature vectors (paper 0.1); ``kmeans_iters``;
    ``kmeans_mode``: ``"lloyd"`` (exact Lloyd iterations) or ``"two_level"`` (coarse cells, then k-means
    per cell: the CPU-tractable approximation, see :func:`defectbook.components.memory.kmeans_two_level`).
    topk: pixels of the image score, a fraction of the map (< 1) or a count (>= 1).
    use_weighted (A), use_aggregated (B), use_neighbour_min (C), use_shift (D): Table 3 switches.
    use_centroids: image score with the centroid distances (Eq. 14); False: mean of the top-k map values.
    image_map: ``"weighted"`` (M = the A map, the prose's "Mahalanobis distances to the estimated
    distribution collection") or ``"combined"`` (M = the final map S).
    shift, shift_mode: shift size ``s`` (paper 4) and ``"axes"`` (4s + 1 copies) or ``"grid"``.
    score_batch: images x shifts scored together; unpack_limit_mb: unpack the precisions for scoring
    when they fit in this many MiB (speed), else score from the packed storage (memory).
    """

    name = "npad"

    def __init__(self, backbone: str = "efficientnet_lite0", layers: Sequence[str] = ("layer1", "layer2", "layer3"),
                 weights: str | None = None, d: int | None = 100, channel_rule: str = "fewest_zeros",
                 train_radius: int = 3, infer_radius: int = 2, agg_radius: int | None = None, beta: float = 0.25,
                 weighting: str = "bhattacharyya", eps: float = 0.01, ddof: int = 0, kmeans_ratio: float = 0.1,
                 kmeans_iters: int = 10, kmeans_mode: str = "lloyd", topk: float = 0.01, use_weighted: bool = True,
                 use_aggregated: bool = True,
                 use_neighbour_min: bool = True, use_shift: bool = True, use_centroids: bool = True,
                 image_map: str = "weighted", shift: int = 4, shift_mode: str = "axes", sigma: float = 4.0,
                 seed: int = 0, batch_size: int = 16, score_batch: int = 64, unpack_limit_mb: float = 512,
                 device: str | None = "cpu"):
        check_params("npad", d=(d, "int>=1?"), train_radius=(train_radius, "int>=0"),
                     infer_radius=(infer_radius, "int>=0"),
                     agg_radius=(agg_radius, "int>=0?"), beta=(beta, "float>0"), eps=(eps, "float>0"),
                     ddof=(ddof, "int[0,1]"), kmeans_ratio=(kmeans_ratio, "float(0,1]"),
                     kmeans_iters=(kmeans_iters, "int>=1"),
                     topk=(topk, "float>0"), shift=(shift, "int>=0"), sigma=(sigma, "float>=0"), seed=(seed, "int"),
                     batch_size=(batch_size, "int>=1"), score_batch=(score_batch, "int>=1"),
                     unpack_limit_mb=(unpack_limit_mb, "float>0"))
        if not (use_weighted or use_aggregated):
            raise DefectbookError("npad needs at least one of use_weighted (A) and use_aggregated (B)")
        if weighting not in WEIGHTINGS:
            raise DefectbookError(f"unknown weighting {weighting!r}; known: {', '.join(WEIGHTINGS)}")
        if channel_rule not in CHANNEL_RULES:
            raise DefectbookError(f"unknown channel_rule {channel_rule!r}; known: {', '.join(CHANNEL_RULES)}")
        if image_map not in ("weighted", "combined"):
            raise DefectbookError(f"unknown image_map {image_map!r}; known: weighted, combined")
        if min(train_radius, infer_radius, shift) < 0 or (agg_radius is not None and agg_radius < 0):
            raise DefectbookError("npad radii and shift must be >= 0")
        if beta <= 0 or not 0 < kmeans_ratio <= 1 or topk <= 0:
            raise DefectbookError("npad needs beta > 0, 0 < kmeans_ratio <= 1 and topk > 0")
        shift_offsets(shift, shift_mode)
        check_layers(backbone, layers)                  # before any image is loaded
        check_weights(weights)
        self.backbone, self.layers, self.weights, self.d = backbone, tuple(layers), weights, d
        self.channel_rule, self.train_radius, self.infer_radius = channel_rule, train_radius, infer_radius
        self.agg_radius, self.beta, self.weighting, self.eps, self.ddof = agg_radius, beta, weighting, eps, ddof
        if kmeans_mode not in ("lloyd", "two_level"):
            raise DefectbookError(f"unknown kmeans_mode {kmeans_mode!r}; known: lloyd, two_level")
        self.kmeans_ratio, self.kmeans_iters, self.kmeans_mode, self.topk = (
            kmeans_ratio,
            kmeans_iters,
            kmeans_mode,
            topk,
        )
        self.use_weighted, self.use_aggregated = use_weighted, use_aggregated
        self.use_neighbour_min, self.use_shift, self.use_centroids = use_neighbour_min, use_shift, use_centroids
        self.image_map, self.shift, self.shift_mode, self.sigma = image_map, shift, shift_mode, sigma
        self.seed, self.batch_size, self.device = seed, batch_size, device
        resolve_device(device)        # an unavailable device is a clear error here, not at fit
        self.score_batch, self.unpack_limit_mb = score_batch, unpack_limit_mb

    _rebuilt = ("device_", "extractor_")

    def _rebuild(self) -> None:
        """On load: the frozen backbone, rebuilt from the parameters (not stored)."""
        self.extractor_ = FeatureExtractor(self.backbone, self.layers, self.weights).to(self.device_)

    # -- features ---------------------------------------------------------------------------
    def _embed(self, images: torch.Tensor, desc: str, batch_size: int | None = None) -> torch.Tensor:
        """``[N, d, h, w]`` kept channels of the concatenated backbone features."""
        return torch.cat(list(iter_embeddings(self.extractor_, images, batch_size or self.batch_size, desc,
                                              partial(concat_layers, channels=self.idx_), self.device_)))

    @property
    def _agg_r(self) -> int:
        return self.train_radius if self.agg_radius is None else self.agg_radius

    # -- fit ----------------------------------------------------------------------------------
    def _fit(self, images: torch.Tensor) -> None:
        self.device_ = resolve_device(self.device)
        self.extractor_ = FeatureExtractor(self.backbone, self.layers, self.weights).to(self.device_)
        check_d(self.name, self.d, sum(self.extractor_.channels), self.backbone, self.layers)
        self.idx_ = None
        feats = self._embed(images, "npad fit")                               # [N, C, h, w]
        self.idx_ = select_by_rule(feats, self.d, self.channel_rule, self.seed)
        if self.idx_ is not None:
            self.idx_ = self.idx_.to(self.device_)
            feats = feats[:, self.idx_].contiguous()
        n, c, h, w = feats.shape
        self.n_train_, self.shape_, self.c_ = n, (h, w), c
        if self.use_weighted:
            mean, cov = moments(feats.flatten(2))
            self.weights_ = neighbour_weights(mean, cov, (h, w), self.train_radius, self.weighting, self.beta,
                                              self.eps, n / max(n - self.ddof, 1), self.seed)
            self.mean_a_, self.prec_a_ = weighted_gaussians(mean, cov, (h, w), self.train_radius, self.weights_, n,
                                                            self.ddof, self.eps)
            del mean, cov
        agg = local_average(feats, self._agg_r)
        del feats
        if self.use_aggregated:
            self.mean_b_, cov = moments(agg.flatten(2))
            self.prec_b_ = packed_precisions(cov, c, self.eps, n / max(n - self.ddof, 1), inplace=True)
            del cov
        self.centroids_, self.kmeans_history_ = None, []
        if self.use_centroids:
            vectors = agg.permute(0, 2, 3, 1).reshape(-1, c)
            k = max(1, round(self.kmeans_ratio * vectors.shape[0]))
            fn = kmeans if self.kmeans_mode == "lloyd" else kmeans_two_level
            self.centroids_, self.kmeans_history_ = fn(vectors, k, self.kmeans_iters, self.seed)

    # -- predict ------------------------------------------------------------------------------
    def _prec(self, which: str) -> torch.Tensor:
        """Precisions of module ``which``: unpacked once per ``predict`` call when they take less than
        ``unpack_limit_mb`` (cpu sizes), else packed (unpacked chunk by chunk while scoring)."""
        cache = getattr(self, "_unpacked", {})
        if which not in cache:
            packed = getattr(self, f"prec_{which}_")
            size_mb = 4 * packed.shape[0] * self.c_ ** 2 / 2 ** 20
            cache[which] = unpack_symmetric(packed, self.c_) if size_mb <= self.unpack_limit_mb else packed
            self._unpacked = cache
        return cache[which]

    def _feature_scores(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Feature-level map ``S [B, h, w]`` and image scores ``[B]`` of features ``[B, d, h, w]``."""
        b, c, h, w = feats.shape
        if (h, w) != self.shape_:
            raise DefectbookError(f"npad: test feature map {h}x{w} differs from training {self.shape_}; "
                                  "use the same image size for fit and predict")
        # channels-last: the depthwise averaging runs about twice as fast, and the distances read the
        # feature vectors in place (the same numbers as the default layout)
        feats = feats.contiguous(memory_format=torch.channels_last)
        agg = local_average(feats, self._agg_r)
        a = bmap = None
        if self.use_weighted:
            r = self.infer_radius if self.use_neighbour_min else 0
            a = mahalanobis_packed(feats, self.mean_a_, self._prec("a"), r)    # [B, P]
        if self.use_aggregated:
            bmap = mahalanobis_packed(agg, self.mean_b_, self._prec("b"), 0)
        s = (a * bmap).sqrt() if a is not None and bmap is not None else (a if a is not None else bmap)
        m_map = a if (self.image_map == "weighted" and a is not None) else s
        p = h * w
        k = self._topk_count(p)
        m_top, where = torch.topk(m_map, k, dim=1)                             # descending
        e = None
        if self.centroids_ is not None:
            vec = agg.flatten(2).transpose(1, 2)                               # [B, P, d]
            sel = torch.gather(vec, 1, where[:, :, None].expand(-1, -1, c))    # [B, k, d]
            e = nearest(sel.reshape(-1, c), self.centroids_, 1)[0].view(b, k)
        # other readings of the image score, recorded beside the configured one (see SCORE_VARIANTS)
        variants = {"topk_mean": m_top.mean(1), "top1_map": m_top[:, 0],
                    "top1_centroid": (m_top[:, 0] * e[:, 0]).clamp_min(0).sqrt() if e is not None else m_top[:, 0]}
        return s.view(b, h, w), topk_image_score(m_top, e), variants

    def _topk_count(self, p: int) -> int:
        """How many of the ``p`` map values the image score takes: ``topk`` itself (>= 1, at most ``p``)
        or that share of ``p`` (< 1)."""
        return min(p, max(1, int(self.topk) if self.topk >= 1 else math.ceil(self.topk * p)))

    def _predict(self, images: torch.Tensor) -> Prediction:
        shifts = shift_offsets(self.shift if self.use_shift else 0, self.shift_mode)
        H, W = images.shape[-2:]
        maps, scores, variants = [], [], {}
        self._unpacked = {}
        per = max(1, self.score_batch // len(shifts))
        for i in progress(range(0, images.shape[0], per), desc="npad predict"):
            x = images[i:i + per].to(self.device_)
            b = x.shape[0]
            stack = torch.cat([shift_images(x, dy, dx) for dy, dx in shifts])   # [S*b, 3, H, W]
            feats = self._embed(stack, "npad features")
            s_map, s_img, s_var = self._feature_scores(feats)
            up = F.interpolate(s_map[:, None], size=(H, W), mode="bilinear", align_corners=False)[:, 0]
            back = torch.stack([shift_images(up[j * b:(j + 1) * b], -dy, -dx) for j, (dy, dx) in enumerate(shifts)])
            maps.append(gaussian_blur(back.mean(0), self.sigma))
            scores.append(s_img.view(len(shifts), b).mean(0))
            for name, v in s_var.items():
                variants.setdefault(name, []).append(v.view(len(shifts), b).mean(0))
            variants.setdefault("map_max", []).append(maps[-1].flatten(1).amax(1))
        self._unpacked = {}
        self.score_variants_ = {name: torch.cat(v).tolist() for name, v in variants.items()}
        return Prediction(torch.cat(scores).cpu().numpy(), torch.cat(maps).cpu().numpy())

    def extras(self) -> dict:
        """Fit statistics for the record: centroid count, k-means inertia, neighbour weights, storage;
        after a ``predict``, the image scores of :data:`SCORE_VARIANTS` (``score_variants``)."""
        out = {"n_shifts": len(shift_offsets(self.shift if self.use_shift else 0, self.shift_mode)),
               "feature_shape": list(self.shape_), "channels": self.c_, "channel_rule": self.channel_rule,
               "stored_precision_mb": round(4 * packed_size(self.c_) * self.shape_[0] * self.shape_[1]
                                            * (self.use_weighted + self.use_aggregated) / 2 ** 20, 1)}
        if self.centroids_ is not None:
            out |= {"n_centroids": int(self.centroids_.shape[0]),
                    "kmeans_inertia": [round(v, 4) for v in self.kmeans_history_]}
        if getattr(self, "score_variants_", None):
            out["score_variants"] = {k: [round(v, 6) for v in vals] for k, vals in self.score_variants_.items()}
        if self.topk >= 1 and self._topk_count(self.shape_[0] * self.shape_[1]) != self.topk:
            # an integer top-k is at most the number of positions of the feature map
            out["effective_params"] = {"topk": self._topk_count(self.shape_[0] * self.shape_[1])}
        if self.use_weighted:
            w = self.weights_
            share = w[0] / w.sum(0).clamp_min(1e-12)
            out |= {"centre_weight_share": round(float(share.mean()), 4),
                    "neighbour_weight_mean": round(float(w[1:][w[1:] > 0].mean()) if w.shape[0] > 1 else 0.0, 4)}
        return out
