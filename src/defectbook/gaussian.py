"""Multivariate Gaussians over feature vectors, one per feature-map position (PaDiM, N-pad).

Shapes: ``N`` training images, ``C`` channels, ``P = h * w`` positions, ``B`` test images.
Covariances get a ridge ``eps * I`` (PaDiM: 0.01). Everything is computed in chunks of positions
so that paper-size problems (``C = 550``, ``P = 3136``) stay within memory; only the means and
the precision matrices (inverse covariances, float32) are kept.
"""
from __future__ import annotations

import torch

from .utils import progress


def covariance(x: torch.Tensor, mean: torch.Tensor, eps: float) -> torch.Tensor:
    """Covariances of ``x [N, C, p]`` about ``mean [p, C]``: ``[p, C, C]`` (unbiased, + eps I)."""
    n = x.shape[0]
    xc = x.permute(2, 0, 1) - mean[:, None, :]                       # [p, N, C]
    cov = xc.transpose(1, 2) @ xc / max(n - 1, 1)
    cov.diagonal(dim1=-2, dim2=-1).add_(eps)
    return cov


def precision_from_covariance(cov: torch.Tensor) -> torch.Tensor:
    """Inverse of SPD matrices ``[..., C, C]`` through a Cholesky factor, in float32 (the ridge keeps
    the condition number small enough; tests check agreement with a float64 NumPy inverse)."""
    L = torch.linalg.cholesky(cov.float())
    # inverse of the triangular factor, then P = L^-T L^-1: an order of magnitude faster on the CPU
    # than torch.cholesky_inverse for batches of small matrices
    eye = torch.eye(L.shape[-1], dtype=L.dtype).expand_as(L)
    Li = torch.linalg.solve_triangular(L, eye, upper=False)
    return Li.mT @ Li


def mahalanobis(x: torch.Tensor, mean: torch.Tensor, precision: torch.Tensor) -> torch.Tensor:
    """Mahalanobis distances of ``x [B, C, p]`` to per-position Gaussians ``mean [p, C]``,
    ``precision [p, C, C]``: ``[B, p]``."""
    diff = x.permute(2, 0, 1) - mean[:, None, :]                     # [p, B, C]
    d2 = ((diff @ precision) * diff).sum(-1)                         # [p, B]
    return d2.clamp_min(0).sqrt().T


class PixelGaussians:
    """One Gaussian per position, fitted on ``[N, C, P]`` features.

    >>> g = PixelGaussians(eps=0.01).fit(torch.randn(20, 4, 9))
    >>> g.score(torch.randn(2, 4, 9)).shape
    torch.Size([2, 9])
    """

    def __init__(self, eps: float = 0.01, chunk: int = 512):
        self.eps = eps
        self.chunk = chunk

    def fit(self, features: torch.Tensor) -> "PixelGaussians":
        if features.ndim != 3:
            raise ValueError(f"features must be [N, C, P], got {tuple(features.shape)}")
        n, c, p = features.shape
        self.mean = features.mean(0).T.contiguous()                   # [P, C]
        self.precision = torch.empty(p, c, c, dtype=torch.float32)
        for s in progress(range(0, p, self.chunk), desc="gaussians"):
            e = min(p, s + self.chunk)
            cov = covariance(features[:, :, s:e].float(), self.mean[s:e], self.eps)
            self.precision[s:e] = precision_from_covariance(cov)
        return self

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Mahalanobis distance map ``[B, P]`` of features ``x [B, C, P]``."""
        return torch.cat([mahalanobis(x[:, :, s:s + self.chunk], self.mean[s:s + self.chunk],
                                      self.precision[s:s + self.chunk]) for s in range(0, x.shape[2], self.chunk)], 1)
