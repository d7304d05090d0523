"""Normalizing-flow building blocks shared by the flow-based methods (DifferNet).

* :func:`coupling_flow` builds a FrEIA ``SequenceINN`` over vectors ``[B, D]``: ``n_blocks`` times
  a fixed random permutation followed by a GLOW-style affine coupling block whose scale is
  soft-clamped as DifferNet defines it, ``e(s) = exp(alpha * 0.636 * atan(s / alpha))``
  (0.636 ~ 2 / pi), and whose subnetworks are fully connected (``hidden_layers`` hidden layers of
  ``width`` units, ReLU). FrEIA's own ``ATAN`` clamp is ``exp(alpha * 0.636 * atan(s))``, which
  saturates ``alpha`` times sooner; :func:`differnet_clamp` passes DifferNet's form to FrEIA.
* :func:`nll` is the negative log-likelihood under a standard normal latent,
  ``||z||^2 / 2 - log|det dz/dy|`` (the constant ``D/2 log 2 pi`` dropped), per sample.
* :func:`flow_loss` is DifferNet's training loss: the mean NLL divided by the dimension ``D``.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import DefectbookError


def subnet_fc(width: int = 2048, hidden_layers: int = 3, dropout: float = 0.0):
    """A FrEIA subnet constructor ``(c_in, c_out) -> nn.Module``: ``hidden_layers`` dense layers of
    ``width`` with ReLU, then a linear output layer (PyTorch's default initialisation, as in the
    official DifferNet code)."""
    if width < 1 or hidden_layers < 1:
        raise DefectbookError(f"subnet needs width >= 1 and hidden_layers >= 1, got {width}, {hidden_layers}")

    def make(c_in: int, c_out: int) -> nn.Module:
        layers: list[nn.Module] = []
        d = c_in
        for _ in range(hidden_layers):
            layers += [nn.Linear(d, width), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            d = width
        return nn.Sequential(*layers, nn.Linear(d, c_out))

    return make


def differnet_clamp(clamp: float):
    """FrEIA ``clamp_activation`` giving DifferNet's soft clamp: FrEIA scales by
    ``exp(clamp * f(s))``; with ``f(u) = 0.636 atan(u / clamp)`` that is
    ``exp(clamp * 0.636 * atan(s / clamp))``, DifferNet's ``e(s)``."""
    if clamp <= 0:
        raise DefectbookError(f"clamp must be > 0, got {clamp}")
    return lambda u: 0.636 * torch.atan(u / clamp)


def coupling_flow(dim: int, n_blocks: int = 8, width: int = 2048, hidden_layers: int = 3, clamp: float = 3.0,
                  seed: int = 0, dropout: float = 0.0):
    """FrEIA ``SequenceINN`` on ``[B, dim]``: ``n_blocks`` x (``PermuteRandom`` (seed ``seed + k``),
    ``GLOWCouplingBlock`` with soft clamp ``clamp``). ``flow(y) -> (z [B, dim], log_jac_det [B])``;
    ``flow(z, rev=True)`` inverts. NumPy's global random state is left untouched."""
    from FrEIA.framework import SequenceINN
    from FrEIA.modules import GLOWCouplingBlock, PermuteRandom

    if dim < 2:
        raise DefectbookError(f"a coupling flow needs at least 2 input dimensions, got {dim}")
    if n_blocks < 1:
        raise DefectbookError(f"a coupling flow needs at least one block, got n_blocks={n_blocks}")
    state = np.random.get_state()          # PermuteRandom seeds NumPy's global generator
    try:
        flow = SequenceINN(dim)
        for k in range(n_blocks):
            flow.append(PermuteRandom, seed=seed + k)
            flow.append(GLOWCouplingBlock, subnet_constructor=subnet_fc(width, hidden_layers, dropout), clamp=clamp,
                        clamp_activation=differnet_clamp(clamp))
    finally:
        np.random.set_state(state)
    return flow


def nll(z: torch.Tensor, log_jac_det: torch.Tensor) -> torch.Tensor:
    """Per-sample negative log-likelihood ``[B]`` of ``z [B, D]`` under N(0, I) with the flow's
    ``log_jac_det [B]`` (additive constant ``D/2 log(2 pi)`` omitted)."""
    return 0.5 * (z ** 2).sum(1) - log_jac_det


def flow_loss(z: torch.Tensor, log_jac_det: torch.Tensor) -> torch.Tensor:
    """DifferNet's loss: ``mean_B(||z||^2 / 2 - log|det J|) / D`` (a scalar)."""
    return nll(z, log_jac_det).mean() / z.shape[1]


def n_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
