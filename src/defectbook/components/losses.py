"""Shared image losses: SSIM (map and loss), hinge GAN losses, feature matching.

Written once here and used by every reconstruction model (TrustMAE, MemAE, AE-L2, AE-SSIM) and
by the SSIM distance maps of the figures.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from .. import DefectbookError
from .features import gaussian_kernel1d


def ssim_map(x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5,
             c1: float = 0.01 ** 2, c2: float = 0.03 ** 2, data_range: float = 1.0) -> torch.Tensor:
    """Local SSIM of two image batches ``[B, C, H, W]`` -> ``[B, H, W]`` (mean over channels).

    Gaussian window ``window x window`` (sigma 1.5, Wang et al. 2004), constants
    ``c1 = (0.01 L)^2``, ``c2 = (0.03 L)^2`` with ``L = data_range``; reflect padding keeps the
    input size. 1 = identical patches.

    The window is separable, so the five local means (of x, y, x^2, y^2, xy) are one depthwise pass along
    the rows and one along the columns over the five maps stacked: 2 x ``window`` multiply-adds per pixel
    instead of ``window^2``, the same numbers to float rounding.
    """
    if x.shape != y.shape or x.ndim != 4:
        raise DefectbookError(
            f"ssim needs two [B, C, H, W] tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    c = x.shape[1]
    g = gaussian_kernel1d(sigma, window, x.dtype, x.device)        # the 2-D window is its outer product
    pad = window // 2
    mode = "reflect" if min(x.shape[-2:]) > pad else "replicate"
    xp, yp = F.pad(x, [pad] * 4, mode=mode), F.pad(y, [pad] * 4, mode=mode)
    stack = torch.cat([xp, yp, xp * xp, yp * yp, xp * yp], 1)                  # [B, 5C, H + 2 pad, W + 2 pad]
    n = stack.shape[1]
    local = F.conv2d(stack, g.view(1, 1, 1, window).expand(n, 1, 1, window), groups=n)      # along the rows
    local = F.conv2d(local, g.view(1, 1, window, 1).expand(n, 1, window, 1), groups=n)      # along the columns
    mu_x, mu_y, exx, eyy, exy = local.split(c, 1)
    sxx, syy, sxy = exx - mu_x ** 2, eyy - mu_y ** 2, exy - mu_x * mu_y
    c1, c2 = c1 * data_range ** 2, c2 * data_range ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (sxx + syy + c2))
    return s.mean(1)


def ssim_loss(x: torch.Tensor, y: torch.Tensor, window: int = 11, data_range: float = 1.0) -> torch.Tensor:
    """``1 - mean SSIM`` (scalar): 0 for identical images."""
    return 1 - ssim_map(x, y, window, data_range=data_range).mean()


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator hinge loss (TrustMAE supp. Eq. 13): ``E[relu(1 - D(x))] + E[relu(1 + D(G(x)))]``."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def hinge_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator hinge loss (supp. Eq. 14): ``-E[D(G(x))]``."""
    return -fake_logits.mean()


def feature_matching(real: Sequence[torch.Tensor], fake: Sequence[torch.Tensor],
                     weights: Sequence[float] | None = None) -> torch.Tensor:
    """``sum_l w_l * mean|real_l - fake_l|`` over paired feature maps (supp. Eqs. 12 and 15).

    ``real`` is treated as the target (detached).
    """
    if len(real) != len(fake):
        raise DefectbookError(f"feature matching needs as many real as fake maps, got {len(real)} and {len(fake)}")
    weights = [1.0] * len(real) if weights is None else list(weights)
    if len(weights) != len(real):
        raise DefectbookError(f"{len(weights)} layer weights for {len(real)} feature maps")
    total = real[0].new_zeros(())
    for w, a, b in zip(weights, real, fake):
        total = total + w * (a.detach() - b).abs().mean()
    return total
