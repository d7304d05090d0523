"""Small shared helpers: progress bars, logging, seeding, device choice."""
from __future__ import annotations

import logging
import os
import random
import sys
from typing import Iterable, TypeVar

import numpy as np
import torch

from . import settings

T = TypeVar("T")

log = logging.getLogger("defectbook")


def _in_notebook() -> bool:
    """True inside an interactive Jupyter kernel (ipywidgets bars render there)."""
    shell = sys.modules.get("IPython")
    try:
        ip = shell.get_ipython() if shell is not None else None
    except Exception:  # noqa: BLE001
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None, leave: bool = False) -> Iterable[T]:
    """A tqdm progress bar where a person watches one, else the plain iterable.

    Shown in a terminal (stderr is a tty) and in an interactive notebook; never in a batch build
    (``DEFECTBOOK_BATCH=1``), a log file or CI output, so no bar fragments end up in logs.
    ``DEFECTBOOK_PROGRESS=0`` silences the bars everywhere, ``=1`` forces them on.
    """
    flag = settings.get("DEFECTBOOK_PROGRESS", "").lower()
    if flag in ("0", "false", "no"):
        return iterable
    forced = flag in ("1", "true", "yes")
    if not forced and settings.batch():
        return iterable
    if _in_notebook():
        from tqdm.auto import tqdm
    elif forced or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        from tqdm import tqdm
    else:
        return iterable
    return tqdm(iterable, desc=desc, total=total, leave=leave, dynamic_ncols=True)


class _StderrHandler(logging.StreamHandler):
    """A stream handler writing to whatever ``sys.stderr`` is at the time of each line (a captured or
    replaced stderr that was closed since the handler was made never breaks logging)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def setup_logging(logfile: str | os.PathLike | None = None, stderr: bool = True, level: int = logging.INFO) -> None:
    """Send the ``defectbook`` logger's lines to stderr and/or a file (appended), once each.

    Without ``logfile`` the file named by ``DEFECTBOOK_LOG`` is used (a batch build sets it for its
    notebooks' kernels, which then log to the file only)."""
    logfile = logfile or settings.get("DEFECTBOOK_LOG")
    log.setLevel(level)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    have = {getattr(h, "_defectbook", None) for h in log.handlers}
    if stderr and "stderr" not in have:
        h = _StderrHandler()
        h.setFormatter(fmt)
        h._defectbook = "stderr"
        log.addHandler(h)
    if logfile and f"file:{logfile}" not in have:
        os.makedirs(os.path.dirname(os.path.abspath(logfile)), exist_ok=True)
        h = logging.FileHandler(logfile, mode="a", encoding="utf-8")
        h.setFormatter(fmt)
        h._defectbook = f"file:{logfile}"
        log.addHandler(h)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch.Generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``"auto"``/None -> CUDA when available, else CPU; ``"cpu"``, ``"cuda"``, ``"cuda:N"`` as named.

    A CUDA device on a machine without one (or a GPU index it lacks) is a clear
    :class:`~defectbook.DefectbookError`, never a silent fall back to the CPU.
    """
    from . import DefectbookError

    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device.strip().lower() if isinstance(device, str) else device)
    except (RuntimeError, TypeError, ValueError):
        raise DefectbookError(f"unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DefectbookError(
                f"device {str(device)!r} was asked for but CUDA is not available here "
                f"(torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none'}): "
                "use device 'cpu' or 'auto', or run on a machine with an NVIDIA GPU and a CUDA build of torch")
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise DefectbookError(f"device {str(device)!r} was asked for but this machine has {n} CUDA device(s)")
    elif dev.type not in ("cpu", "meta"):
        raise DefectbookError(f"unsupported device {str(device)!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'")
    return dev
