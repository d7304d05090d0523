"""The result store: one JSON record per experiment config (keyed by the config's hash), plus an
optional ``.npz`` of example maps. Writes are atomic (temporary file, ``fsync``, ``os.replace``,
``fsync`` of the folder), and the JSON is written last, so a killed batch never leaves a record
that looks complete: rerunning it redoes only what has no JSON yet. Readers never see a partial
record. Several processes (Dask workers, on one machine or on a shared file system) may share a
store: a key's record is published under a per-key ``flock``, once; a process that loses a race
gets the record already there (see :meth:`Store.put`). Each JSON carries a SHA-256 ``checksum`` of
its content, which covers the SHA-256 of its example-maps file (``maps_sha256``): a record edited by
hand, damaged, of the wrong shape, without a checksum, stored under another key's name, or whose
maps file is missing or changed is not served (a warning names it and
:func:`defectbook.pipeline.run.run` recomputes it; :func:`verify_store` lists them all). Example maps are
stored as float16 scaled per map into [0, 1] (offset and scale kept beside them), so any finite
range survives.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from .. import DefectbookError
from ..paths import _key_lock, disk_error, file_sha256, results_dir, share_as_umask


def config_hash(config: dict) -> str:
    """Stable 16-hex-digit hash of a JSON-serialisable config (key order does not matter)."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Record:
    """Everything one experiment produced.

    ``metrics``: image_auroc, image_f1_max, pixel_auroc, aupro (None when unavailable);
    ``timings``: fit_s, predict_s; ``memory``: peak_rss_mb (and cuda_peak_mb on a GPU);
    ``scores``/``labels``/``defects``: per test image; ``extras``: what the detector reports;
    ``env``: library versions and git commit; ``maps_sha256``: SHA-256 of the example-maps file
    (None when the record has none).
    """

    key: str
    config: dict
    metrics: dict
    timings: dict
    memory: dict
    scores: list
    labels: list
    defects: list
    extras: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    maps_sha256: str | None = None
    store: str | None = None
    checksum: str | None = None

    def maps(self) -> dict[str, np.ndarray]:
        """Example test images ``[K,H,W,3]`` uint8, masks ``[K,H,W]``, maps ``[K,H,W]`` float32, ``index`` [K]."""
        if not self.store:
            return {}
        p = Path(self.store) / f"{self.key}.npz"
        if not self.maps_sha256:
            return {}
        if not p.is_file() or file_sha256(p) != self.maps_sha256:
            state = "missing" if not p.is_file() else "not the one its record was written with (changed or damaged)"
            raise DefectbookError(f"maps file {p} is {state}: rerun the experiment with force=True "
                                  f"(defectbook evaluate --force)")
        try:
            with np.load(p, allow_pickle=False) as z:
                out = {k: z[k] for k in z.files}
        except Exception as e:  # noqa: BLE001 - zipfile.BadZipFile and friends
            raise DefectbookError(f"maps file {p} is damaged ({e.__class__.__name__}): delete it and rerun the "
                                  f"experiment with force=True (defectbook evaluate --force)") from None
        return decode_maps(out)

    @property
    def peak_memory_mb(self) -> float | None:
        return self.memory.get("peak_rss_mb")


class Store:
    """A folder of records. ``Store()`` uses :func:`defectbook.paths.results_dir`."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else results_dir()

    def path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def get(self, key: str) -> Record | None:
        """The record of ``key``; None when absent, or when it is refused (see :meth:`check`: a warning
        names the file and why; :func:`~defectbook.pipeline.run.run` recomputes it)."""
        if not self.path(key).is_file():
            return None
        data, why = self.check(key)
        if why is not None:
            return _refused(self.path(key), why)
        data["store"] = str(self.root)
        return Record(**data)

    def check(self, key: str) -> tuple[dict | None, str | None]:
        """``(payload, None)`` for a record that may be served, else ``(None, why)``: not readable JSON,
        not the shape of a record, no checksum or a wrong one, the record of another key (a file copied
        onto this key's name), or example maps missing, changed or not covered by the checksum."""
        p = self.path(key)
        try:
            data = json.loads(p.read_text())
        except (json.JSONDecodeError, OSError, UnicodeDecodeError):
            return None, "is not readable JSON"
        names = {f.name for f in fields(Record)} - {"store"}
        required = {f.name for f in fields(Record) if f.default is f.default_factory is MISSING}
        if not isinstance(data, dict) or not required <= data.keys() or not data.keys() <= names:
            return None, "does not have the shape of a record"
        if data.get("checksum") is None:
            return None, "has no checksum (written by an older version or by hand)"
        if data["checksum"] != record_checksum(data):
            return None, "fails its checksum (edited by hand or damaged)"
        if data["key"] != key:
            return None, f"holds the record of key {data['key']}, not of {key} (copied or renamed)"
        maps = self.root / f"{key}.npz"
        if data.get("maps_sha256"):
            if not maps.is_file():
                return None, f"names example maps {maps.name} that are missing"
            if file_sha256(maps) != data["maps_sha256"]:
                return None, f"names example maps {maps.name} that were changed or damaged since"
        elif maps.is_file():
            return None, f"has example maps {maps.name} that its checksum does not cover (written by an older version)"
        return data, None

    def put(self, record: Record, arrays: dict[str, np.ndarray] | None = None, replace: bool = False) -> Record:
        """Publish ``record`` (and its example ``arrays``) and return the record now stored.

        A key is written once: when a valid record for the key is already there (another worker
        won the race) it is kept and returned, unless ``replace`` (``run(force=True)``).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        with _key_lock(self.root / f".{record.key}.lock"):
            if not replace:
                existing = self.get(record.key)
                if existing is not None:
                    return existing
            maps = self.root / f"{record.key}.npz"
            if arrays:
                _atomic_write(maps, lambda f: np.savez_compressed(f, **arrays), "wb")
                record.maps_sha256 = file_sha256(maps)
            else:
                record.maps_sha256 = None
                maps.unlink(missing_ok=True)          # another run's maps must not pass for this record's
            record.store = str(self.root)
            payload = asdict(record)
            payload.pop("store")
            payload = json.loads(json.dumps(payload, default=_jsonable))  # what is written is what is checksummed
            payload["checksum"] = record.checksum = record_checksum(payload)
            _atomic_write(self.path(record.key), lambda f: f.write(json.dumps(payload, indent=1, default=_jsonable)),
                          "w")
        return record

    def keys(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.json")) if self.root.is_dir() else []

    def __len__(self) -> int:
        return len(self.keys())


def record_checksum(payload: dict) -> str:
    """SHA-256 of a record's JSON content (every field but ``checksum`` and ``store``; key order ignored)."""
    body = {k: v for k, v in payload.items() if k not in ("checksum", "store")}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), default=_jsonable).encode()
    ).hexdigest()


def _refused(path: Path, why: str) -> None:
    warnings.warn(f"record {path} {why}: not used; it is recomputed on the next run", stacklevel=3)
    return None


def encode_maps(maps: np.ndarray) -> dict[str, np.ndarray]:
    """Anomaly maps ``[K, H, W]`` -> ``maps`` float16 in [0, 1] with ``maps_offset``/``maps_scale`` ``[K]``
    float64 (``map = maps * scale + offset``): float16 holds any finite range this way (a plain cast
    overflows above 65504 and flattens small ranges). Non-finite values are an error."""
    m = np.asarray(maps, dtype=np.float64)
    if not np.isfinite(m).all():
        bad = int((~np.isfinite(m)).sum())
        raise DefectbookError(f"{bad} anomaly-map values are NaN or infinite: the detector diverged "
                              f"(check its parameters, e.g. learning rate or eps); nothing was stored")
    flat = m.reshape(len(m), -1)
    lo = flat.min(1) if flat.size else np.zeros(len(m))
    scale = (flat.max(1) - lo) if flat.size else np.ones(len(m))
    scale = np.where(scale > 0, scale, 1.0)
    enc = ((m - lo[:, None, None]) / scale[:, None, None]).astype(np.float16)
    return {"maps": enc, "maps_offset": lo, "maps_scale": scale}


def decode_maps(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inverse of :func:`encode_maps` inside a maps dict (older files without a scale pass through)."""
    if "maps_scale" not in arrays:
        return arrays
    out = dict(arrays)
    sc, off = out.pop("maps_scale"), out.pop("maps_offset")
    out["maps"] = (out["maps"].astype(np.float64) * sc[:, None, None] + off[:, None, None]).astype(np.float32)
    return out


def _jsonable(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _atomic_write(path: Path, write, mode: str) -> None:
    """Write ``path`` through a temporary sibling (``write(file)``), made durable, then renamed over it;
    created with the permissions the umask grants. A full or read-only disk is a one-line
    :class:`~defectbook.DefectbookError` and leaves nothing behind."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise disk_error(e, path) from None
    try:
        share_as_umask(tmp)
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise disk_error(e, path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a crash after it cannot lose the new name)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # platforms that cannot open a folder (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
