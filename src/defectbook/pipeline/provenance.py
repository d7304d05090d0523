"""What a record says about where it came from: library versions and git commit, peak memory,
the backbone, the data root and fingerprint."""
from __future__ import annotations

import os
import platform
import subprocess
import threading
from functools import lru_cache

import numpy as np
import torch

from .. import __version__
from ..data.fingerprint import fingerprint
from ..paths import data_root as default_data_root
from ..paths import repo_root


class PeakMemory:
    """Peak resident memory (MiB) of this process while the block runs (sampled every 20 ms), and
    the CUDA peak where a GPU is used."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.peak_rss_mb = 0.0
        self._stop = threading.Event()

    @staticmethod
    def rss_mb() -> float:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except OSError:  # not Linux: lifetime peak is the best we have
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def _watch(self):
        while not self._stop.is_set():
            self.peak_rss_mb = max(self.peak_rss_mb, self.rss_mb())
            self._stop.wait(self.interval)

    def __enter__(self):
        self.start_rss_mb = self.rss_mb()
        self.peak_rss_mb = self.start_rss_mb
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_rss_mb = max(self.peak_rss_mb, self.rss_mb())

    def as_dict(self) -> dict:
        d = {"peak_rss_mb": round(self.peak_rss_mb, 1), "start_rss_mb": round(self.start_rss_mb, 1)}
        if torch.cuda.is_available():
            d["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        return d


@lru_cache(maxsize=1)
def environment() -> dict:
    """Library versions and the git commit of the source checkout (with a dirty flag)."""
    import sklearn
    import torchvision

    env = {"defectbook": __version__, "python": platform.python_version(), "torch": torch.__version__,
           "torchvision": torchvision.__version__, "numpy": np.__version__, "sklearn": sklearn.__version__,
           "machine": platform.machine(), "cuda": torch.cuda.is_available()}
    root = repo_root()
    if root is not None:
        try:
            env["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                               text=True, timeout=10).stdout.strip() or None
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                   capture_output=True, text=True, timeout=10).stdout.strip()
            env["git_dirty"] = bool(dirty)
        except (OSError, subprocess.SubprocessError):
            env["git_commit"] = None
    return env


def _data_provenance(c: dict, split) -> dict:
    """Where a record's data came from: the data root and the split's fingerprint."""
    root = None if c["dataset"] == "synthetic" else str(c["data_root"] or default_data_root())
    if c["dataset"] == "elpv":
        root = str(split.info.get("package", "elpv_dataset")) + " " + str(split.info.get("package_version"))
    return {"root": root, "fingerprint": fingerprint(split)}


def _describe(detector) -> str | None:
    ext = getattr(detector, "extractor_", None)
    if ext is not None and hasattr(ext, "describe"):
        return ext.describe()
    b = getattr(detector, "backbone", None)
    return f"{b}[{getattr(detector, 'weights', None) or 'imagenet'}]" if isinstance(b, str) else None

