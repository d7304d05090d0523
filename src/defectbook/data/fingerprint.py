"""Fingerprint of a split: what a record's numbers were computed on.

Real data: a SHA-256 over the sorted file list of the split (path relative to the common folder,
size and modification time of every image and mask, label, defect type and mask threshold), so
another data root, a missing or emptied one, or a dataset changed in place gives another
fingerprint (and another record key). Synthetic data: the generator's version and parameters
(they determine the images). Content hashes are not used: reading every image to key a record
would cost as much as loading it.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .. import DefectbookError
from .base import Split


def _stat(path: Path) -> list:
    try:
        st = path.stat()
    except OSError:
        raise DefectbookError(
            f"data file {path} is missing or unreadable; run `defectbook data check` on its root"
        ) from None
    return [st.st_size, st.st_mtime_ns]


def fingerprint(split: Split) -> dict:
    """``{"kind": "files"|"generator", "digest": 16 hex digits, ...}`` for ``split``.

    ``kind="files"`` also gives ``root`` (the common folder of the files) and ``n_files``;
    ``kind="generator"`` gives ``generator`` (parameters) and ``generator_version``.
    """
    info = split.info or {}
    if info.get("dataset") == "synthetic" and "generator" in info:
        body = {"generator": info["generator"], "generator_version": info.get("generator_version")}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]
        return {"kind": "generator", "digest": digest, **body}
    samples = [("train", s) for s in split.train] + [("test", s) for s in split.test]
    paths = [str(s.path) for _, s in samples] + [str(s.mask) for _, s in samples if s.mask is not None]
    root = Path(os.path.commonpath(paths)) if paths else Path(".")
    if root.is_file():
        root = root.parent
    rows = []
    for part, s in samples:
        row = [part, os.path.relpath(s.path, root), *_stat(Path(s.path)), int(s.label), s.defect,
               getattr(s, "mask_threshold", None)]
        if s.mask is not None:
            row += [os.path.relpath(s.mask, root), *_stat(Path(s.mask))]
        rows.append(row)
    blob = json.dumps(rows, separators=(",", ":"), default=str).encode()
    return {"kind": "files", "digest": hashlib.sha256(blob).hexdigest()[:16], "root": str(root),
            "n_files": len(paths), "what": "sha256 of the split's relative file names, sizes and mtimes"}
