"""Fitted statistics as module buffers, whose shapes are known only after ``fit``.

A fitted model keeps its statistics (means, Cholesky factors, memory banks) as buffers of an
``nn.Module``, so saving is ``state_dict()`` and loading ``load_state_dict()``. A new, unfitted module
does not know their shapes yet (they depend on the training data), so :class:`FittedModule` adopts
the saved tensor of each of its own buffers on load, whatever its current shape (or ``None``), before
the ordinary copy. Extra, non-tensor fitted values go through ``get_extra_state``; :func:`to_plain`
and :func:`from_plain` turn NumPy values into what ``torch.load(weights_only=True)`` reads back.

>>> m = FittedModule(); m.register_buffer("mean", None)
>>> m.load_state_dict({"mean": torch.ones(3)}); m.mean.shape
<All keys matched successfully>
torch.Size([3])
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class FittedModule(nn.Module):
    """An ``nn.Module`` whose own buffers take the shape (and dtype) of the state they are loaded from."""

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        self._adopt_buffers(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def _adopt_buffers(self, state_dict: dict, prefix: str) -> None:
        """Replace each own persistent buffer saved in ``state_dict`` by a copy of the saved tensor (on
        this buffer's device where it has one, else the saved tensor's)."""
        for name, old in list(self._buffers.items()):
            key = prefix + name
            if key in state_dict and name not in self._non_persistent_buffers_set:
                saved = state_dict[key]
                self._buffers[name] = saved.detach().clone().to(old.device if old is not None else saved.device)


def to_plain(v):
    """Numbers, strings, tensors, torch sizes and NumPy values inside lists, tuples and dicts -> the
    same structure with NumPy arrays as ``{"__numpy__": tensor}`` and tensors on the CPU."""
    if isinstance(v, torch.Tensor):
        return v.detach().cpu()
    if isinstance(v, np.ndarray):
        return {"__numpy__": torch.from_numpy(np.ascontiguousarray(v))}
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, torch.device):
        return str(v)
    if isinstance(v, (list, tuple)) and not isinstance(v, torch.Size):
        return type(v)(to_plain(x) for x in v)
    if isinstance(v, dict):
        return {k: to_plain(x) for k, x in v.items()}
    if v is None or isinstance(v, (bool, int, float, str, torch.Size)):
        return v
    raise TypeError(f"cannot store a fitted value of type {type(v).__module__}.{type(v).__qualname__}")


def from_plain(v, device: torch.device | str = "cpu"):
    """The inverse of :func:`to_plain`; tensors are moved to ``device``."""
    if isinstance(v, torch.Tensor):
        return v.to(device)
    if isinstance(v, dict):
        if set(v) == {"__numpy__"}:
            return v["__numpy__"].numpy()
        return {k: from_plain(x, device) for k, x in v.items()}
    if isinstance(v, (list, tuple)) and not isinstance(v, torch.Size):
        return type(v)(from_plain(x, device) for x in v)
    return v
