"""Where defectbook keeps caches, results and the book: one place to change them."""
from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path | None:
    """The source checkout this package runs from (editable install), or None for a plain install."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "pyproject.toml").is_file() and (here / "src" / "defectbook").is_dir() else None


def cache_dir() -> Path:
    """``DEFECTBOOK_CACHE``, else ``<repo>/_cache``, else ``~/.cache/defectbook``."""
    if os.environ.get("DEFECTBOOK_CACHE"):
        return Path(os.environ["DEFECTBOOK_CACHE"])
    root = repo_root()
    return root / "_cache" if root else Path.home() / ".cache" / "defectbook"


def results_dir() -> Path:
    """``DEFECTBOOK_RESULTS``, else ``cache_dir()/results``."""
    if os.environ.get("DEFECTBOOK_RESULTS"):
        return Path(os.environ["DEFECTBOOK_RESULTS"])
    return cache_dir() / "results"


def data_root() -> Path | None:
    """The real-data root: ``DEFECTBOOK_DATA``, else ``<repo>/data`` when it holds anything but its README."""
    if os.environ.get("DEFECTBOOK_DATA"):
        return Path(os.environ["DEFECTBOOK_DATA"])
    root = repo_root()
    if root and any(p.name != "README.md" for p in (root / "data").glob("*")):
        return root / "data"
    return None
