"""The ``DEFECTBOOK_*`` environment variables: the one module that reads them.

Every read happens at call time (nothing is cached at import), so a test or a build that sets a
variable later still sees it. Writes (``defectbook reproduce`` setting ``DEFECTBOOK_DATA`` for its
kernels, the feature cache switching itself off) stay with their writers. :data:`VARIABLES` lists
every variable with its default and meaning (the README's table)."""
from __future__ import annotations

import os

#: name -> (default, meaning)
VARIABLES: dict[str, tuple[str, str]] = {
    "DEFECTBOOK_DATA": ("<repo>/data when it holds data", "root folder of the real data sets"),
    "DEFECTBOOK_CACHE": ("<repo>/_cache, else ~/.cache/defectbook", "caches: synthetic data, features, models, builds"),
    "DEFECTBOOK_RESULTS": ("<cache>/results", "the record store"),
    "DEFECTBOOK_WEIGHTS": ("unset", "a folder searched first for backbone weight files"),
    "DEFECTBOOK_DOWNLOAD": ("unset", "1: download missing backbone weights"),
    "DEFECTBOOK_OFFLINE": ("unset", "1: never download, even with DEFECTBOOK_DOWNLOAD=1"),
    "DEFECTBOOK_FEATURE_CACHE": ("1 (disk)", "backbone feature cache: 0/off, memory, or disk"),
    "DEFECTBOOK_FEATURE_CACHE_MB": ("4096", "disk budget of the feature cache (MiB)"),
    "DEFECTBOOK_FEATURE_CACHE_MEM_MB": ("1024", "in-memory budget of the feature cache (MiB)"),
    "DEFECTBOOK_MODEL_LIMIT_MB": ("16", "largest fitted model (MiB) that run() keeps for reuse; 0 keeps none"),
    "DEFECTBOOK_REUSE_MODELS": ("1", "0: fitted models are neither saved nor loaded (reproduce --no-model-reuse)"),
    "DEFECTBOOK_SCHEDULER": ("unset", "Dask scheduler address: experiments run on the cluster"),
    "DEFECTBOOK_TASK_THREADS": ("the worker's OMP_NUM_THREADS", "torch threads per cluster task"),
    "DEFECTBOOK_CONNECT_TIMEOUT": ("10", "seconds to wait for the Dask scheduler"),
    "DEFECTBOOK_DRY_RUN": ("unset", "1: the CI dry run (replica data, random weights); set by reproduce"),
    "DEFECTBOOK_BATCH": ("unset", "1: a batch build (no progress bars, no widgets); set by reproduce"),
    "DEFECTBOOK_PROGRESS": ("auto", "0: no progress bars anywhere; 1: always"),
    "DEFECTBOOK_LOG": ("unset", "log file of a batch build (set by reproduce for its kernels)"),
    "DEFECTBOOK_LEDGER": ("unset", "the batch's build ledger (set by reproduce)"),
    "DEFECTBOOK_NOTEBOOK": ("unset", "the notebook a kernel runs (set by its first, hidden cell)"),
}


#: glibc malloc settings for the processes that run experiments (a build's kernels and Dask workers; the Makefile
#: exports the same for ``make book`` and ``make test``): large tensors are taken from the heap, freed memory stays
#: with the process, and every thread allocates from that one heap (a Dask worker runs its tasks in a thread, whose
#: own arena would map and unmap large blocks as before). glibc's default maps every buffer over 32 MiB afresh and
#: unmaps it when freed, so each batch of backbone activations (a padded 16 x 96 x 113 x 113 map is 78 MB) pays its
#: page faults again: the backbone passes ran 1.2-2x faster without them (``benchmarks/bench_heap.py``). A variable
#: already set in the environment is left as it is.
HEAP_ENV: dict[str, str] = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(2 ** 40), "MALLOC_ARENA_MAX": "1"}


def heap_env() -> dict[str, str]:
    """The :data:`HEAP_ENV` variables not already set in this process's environment."""
    return {k: v for k, v in HEAP_ENV.items() if k not in os.environ}


def get(name: str, default: str | None = None) -> str | None:
    """The value of the ``DEFECTBOOK_*`` variable ``name`` now, else ``default``."""
    if name not in VARIABLES:
        raise KeyError(f"{name} is not a defectbook setting (see defectbook.settings.VARIABLES)")
    return os.environ.get(name, default)


def _yes(name: str) -> bool:
    return (get(name) or "") in ("1", "true", "yes")


def model_reuse() -> bool:
    """Whether fitted models are saved and loaded (``DEFECTBOOK_REUSE_MODELS``, default on)."""
    return (get("DEFECTBOOK_REUSE_MODELS") or "1").strip().lower() not in ("0", "false", "no", "off")


def model_limit_mb() -> float:
    """``DEFECTBOOK_MODEL_LIMIT_MB`` (default 16)."""
    return float(get("DEFECTBOOK_MODEL_LIMIT_MB", 16))


def scheduler() -> str | None:
    """The configured Dask scheduler address (``DEFECTBOOK_SCHEDULER``), or None: run serially."""
    return get("DEFECTBOOK_SCHEDULER") or None


def dry_run() -> bool:
    """``DEFECTBOOK_DRY_RUN`` set to anything but ``0``."""
    return get("DEFECTBOOK_DRY_RUN", "") not in ("", "0")


def batch() -> bool:
    """``DEFECTBOOK_BATCH`` set (to anything): a batch build."""
    return bool(get("DEFECTBOOK_BATCH"))


def download_allowed() -> bool:
    """``DEFECTBOOK_DOWNLOAD`` on and ``DEFECTBOOK_OFFLINE`` off."""
    return _yes("DEFECTBOOK_DOWNLOAD") and not _yes("DEFECTBOOK_OFFLINE")
