"""Where defectbook keeps caches, results and the book: one place to change them."""
from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from pathlib import Path

from . import settings


def repo_root() -> Path | None:
    """The source checkout this package runs from (editable install), or None for a plain install."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "pyproject.toml").is_file() and (here / "src" / "defectbook").is_dir() else None


def cache_dir() -> Path:
    """``DEFECTBOOK_CACHE``, else ``<repo>/_cache``, else ``~/.cache/defectbook``."""
    if settings.get("DEFECTBOOK_CACHE"):
        return Path(settings.get("DEFECTBOOK_CACHE"))
    root = repo_root()
    return root / "_cache" if root else Path.home() / ".cache" / "defectbook"


def results_dir() -> Path:
    """``DEFECTBOOK_RESULTS``, else ``cache_dir()/results``."""
    if settings.get("DEFECTBOOK_RESULTS"):
        return Path(settings.get("DEFECTBOOK_RESULTS"))
    return cache_dir() / "results"


def shown_dir() -> Path:
    """Where each page leaves the keys of the records it shows (for the reproducibility report): ``pages``
    beside the record store."""
    return results_dir().parent / "pages"


def claims_dir() -> Path:
    """Where the pages leave their claim judgements for the ledger page: ``claims`` beside the record store."""
    return results_dir().parent / "claims"


def data_root() -> Path | None:
    """The real-data root: ``DEFECTBOOK_DATA``, else ``<repo>/data`` when it holds anything but its README."""
    if settings.get("DEFECTBOOK_DATA"):
        return Path(settings.get("DEFECTBOOK_DATA"))
    root = repo_root()
    if root and any(p.name != "README.md" for p in (root / "data").glob("*")):
        return root / "data"
    return None


def umask() -> int:
    """The process's file-creation mask (read without changing it where Linux allows)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)       # elsewhere: read by setting it back at once
    os.umask(old)
    return old


def share_as_umask(path: str | os.PathLike, folder: bool = False) -> None:
    """Give a file (or folder) made by :mod:`tempfile` (owner-only, 0600 / 0700) the permissions the
    umask grants, as ``open`` and ``mkdir`` would: a store shared by the users of one server stays
    readable to them (a umask of 077 still keeps it private)."""
    mode = (0o777 if folder else 0o666) & ~umask()
    try:
        os.chmod(path, mode)
    except OSError:
        pass


def disk_error(e: OSError, path: str | os.PathLike, what: str = "writing") -> Exception:
    """A :class:`~defectbook.DefectbookError` for a full, read-only or over-quota disk (one line:
    the file and the fix); any other ``OSError`` is returned as it is, to be raised unchanged."""
    import errno

    from . import DefectbookError

    fixes = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
             errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied"}
    if e.errno not in fixes:
        return e
    return DefectbookError(f"{what} {path} failed: {fixes[e.errno]}; free space or point DEFECTBOOK_CACHE / "
                           f"DEFECTBOOK_RESULTS at a writable folder with room, then rerun (nothing partial was kept)")


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextmanager
def _key_lock(path: Path):
    """An exclusive ``flock`` on ``path`` for the block (released by the OS if the process dies, so
    a killed worker leaves no stale lock; on NFS Linux maps it to a POSIX lock)."""
    try:
        import fcntl
    except ImportError:  # no fcntl (Windows): publishing stays atomic, only the once-per-key check is racy
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
