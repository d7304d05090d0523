"""Small shared helpers: progress bars, seeding, device choice."""
from __future__ import annotations

import os
import random
from typing import Iterable, TypeVar

import numpy as np
import torch

T = TypeVar("T")


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None, leave: bool = False) -> Iterable[T]:
    """A tqdm progress bar, silenced with ``DEFECTBOOK_PROGRESS=0`` (batch builds set it)."""
    if os.environ.get("DEFECTBOOK_PROGRESS", "1") in ("0", "false", "no"):
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=leave)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch.Generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str | None = None) -> torch.device:
    """``"auto"``/None -> CUDA when available, else CPU; otherwise the named device."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
