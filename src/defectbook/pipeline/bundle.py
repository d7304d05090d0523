"""A results bundle: the records of runs too long for a book build, committed with the repository.

A bundle is a folder (``bundles/scale`` for the scale ladder, ``bundles/gpu`` for a GPU window)::

    records/<key>.json            the store's JSON record, byte for byte (its checksum inside; no maps)
    rungs/<claim>/<rung>.json     a manifest per rung: claim, rung, command, commit, date, machine,
                                  threads, device, wall time, the keys of its records, the effects
                                  computed from them, and a checksum of the manifest itself

:func:`write_rung` adds one finished rung (its records copied from the store, then its manifest, each
written atomically, so a killed run never leaves a manifest without its records). :func:`read` loads
a bundle and checks every file: a record must be readable, pass its checksum and sit under its own
key; a manifest must pass its checksum and name only records the bundle holds. Each record is also
keyed again with today's code (:func:`~defectbook.pipeline.keys.key_of`, with the record's own data
fingerprint, so no data is needed): a record whose key changed is **stale** (the code that made it no
longer gives its config that key). Nothing is dropped or used silently: a page shows a stale rung as
stale, and a record that fails its checks as failed.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

from .. import DefectbookError
from ..paths import repo_root
from .keys import key_of
from .provenance import environment
from .store import Record, Store, _atomic_write, _jsonable, record_checksum

#: Bundle folders under the repository's ``bundles/``.
SCALE, GPU = "scale", "gpu"


def default_root(name: str = SCALE) -> Path:
    """``<repo>/bundles/<name>`` (the current folder's ``bundles/<name>`` outside a source checkout)."""
    root = repo_root()
    return (root if root is not None else Path.cwd()) / "bundles" / name


@dataclass
class BundledRecord:
    """One bundled record and its checks: ``ok`` (readable, checksum, key), ``why`` (the failed check),
    ``today_key`` (the key today's code gives its config) and ``stale`` (``today_key`` differs; None when
    the record failed its checks or could not be keyed, ``why`` then says so)."""

    key: str
    record: Record | None
    ok: bool
    why: str | None = None
    today_key: str | None = None
    stale: bool | None = None

    @property
    def status(self) -> str:
        """``ok``, ``stale`` or ``failed: <why>``."""
        if not self.ok:
            return f"failed: {self.why}"
        return "stale" if self.stale else "ok" if self.stale is False else f"unkeyed: {self.why}"


@dataclass
class BundledRung:
    """One rung's manifest and its records (in the manifest's order); ``ok``/``why`` the manifest's own checks."""

    claim: str
    rung: str
    manifest: dict
    records: list[BundledRecord] = field(default_factory=list)
    ok: bool = True
    why: str | None = None

    @property
    def stale(self) -> bool:
        """Whether any of its records is stale, failed or missing (the rung is then shown as stale)."""
        return not self.ok or any(not r.ok or r.stale is not False for r in self.records)

    @property
    def problems(self) -> list[str]:
        out = [] if self.ok else [f"manifest {self.why}"]
        return out + [f"record {r.key}: {r.status}" for r in self.records if r.status != "ok"]


@dataclass
class Bundle:
    """A bundle read by :func:`read`: ``records`` (key -> :class:`BundledRecord`) and ``rungs``."""

    root: Path
    records: dict[str, BundledRecord]
    rungs: list[BundledRung]

    def problems(self) -> list[str]:
        """One line per record or manifest that is stale or fails a check (empty: all current and intact)."""
        out = [f"{r.claim}/{r.rung}: {p}" for r in self.rungs for p in r.problems]
        named = {b.key for r in self.rungs for b in r.records}
        return out + [f"record {k}: {b.status}" for k, b in self.records.items() if k not in named and b.status != "ok"]


def machine() -> dict:
    """Where a rung ran: platform, CPU cores, torch threads, device (GPU name where one is used)."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"platform": platform.platform(), "processor": platform.machine(), "cpu_cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "gpu": gpu}


def manifest_path(root: Path, claim: str, rung: str) -> Path:
    return Path(root) / "rungs" / claim / f"{rung}.json"


def finished(root: str | os.PathLike, claim: str, rung: str) -> bool:
    """Whether ``rung`` of ``claim`` has a manifest in the bundle (a finished rung: its records are there)."""
    return manifest_path(Path(root), claim, rung).is_file()


def write_rung(root: str | os.PathLike, claim: str, rung: str, records: list[Record], effects: list[dict],
               command: str, wall_s: float, extra: dict | None = None) -> Path:
    """Add a finished rung: copy each record's JSON from its store into ``records/`` (maps stay behind),
    then write the manifest (command, commit, date, machine, threads, wall time, keys, ``effects``,
    ``extra``) with its checksum. Returns the manifest's path."""
    root = Path(root)
    (root / "records").mkdir(parents=True, exist_ok=True)
    for r in records:
        _copy_record(r, root / "records" / f"{r.key}.json")
    env = environment()
    body = {"claim": claim, "rung": rung, "command": command, "commit": env.get("git_commit"),
            "dirty": env.get("git_dirty"), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine(), "threads": torch.get_num_threads(),
            "devices": sorted({str(r.extras.get("device")) for r in records}), "wall_s": round(float(wall_s), 1),
            "keys": [r.key for r in records], "effects": effects, **(extra or {})}
    body = json.loads(json.dumps(body, default=_jsonable))
    body["checksum"] = record_checksum(body)
    path = manifest_path(root, claim, rung)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, lambda f: f.write(json.dumps(body, indent=1)), "w")
    return path


def _copy_record(r: Record, target: Path) -> None:
    src = Path(r.store) / f"{r.key}.json" if r.store else None
    if src is not None and src.is_file():
        if not target.is_file() or target.read_bytes() != src.read_bytes():
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(src, tmp)
            os.replace(tmp, target)
        return
    payload = {k: v for k, v in asdict(r).items() if k != "store"}
    if payload.get("checksum") is None:
        raise DefectbookError(f"record {r.key} has no checksum: only stored records can be bundled")
    _atomic_write(target, lambda f: f.write(json.dumps(payload, indent=1, default=_jsonable)), "w")


def check_record(path: str | os.PathLike) -> BundledRecord:
    """Load one bundled record and check it (see :class:`BundledRecord`)."""
    p = Path(path)
    key = p.stem
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return BundledRecord(key, None, False, "is not readable JSON")
    if not isinstance(data, dict) or "config" not in data or "key" not in data:
        return BundledRecord(key, None, False, "does not have the shape of a record")
    if data.get("checksum") is None or data["checksum"] != record_checksum(data):
        return BundledRecord(key, None, False, "fails its checksum (edited by hand or damaged)")
    if data["key"] != key:
        return BundledRecord(key, None, False, f"holds the record of key {data['key']} (copied or renamed)")
    try:
        record = Record(**{k: v for k, v in data.items() if k != "store"})
    except TypeError:
        return BundledRecord(key, None, False, "does not have the shape of a record")
    digest = ((record.extras.get("data") or {}).get("fingerprint") or {}).get("digest")
    try:
        today = key_of(record.config, data_digest=digest if record.config.get("dataset") != "synthetic" else None)
    except Exception as e:  # noqa: BLE001 - a method or dataset today's code no longer knows: not keyable
        return BundledRecord(key, record, True, f"today's code cannot key its config ({e})")
    return BundledRecord(key, record, True, None, today, today != key)


def _check_manifest(path: Path) -> tuple[dict, str | None]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}, "is not readable JSON"
    if not isinstance(data, dict) or data.get("checksum") is None or data["checksum"] != record_checksum(data):
        return (data if isinstance(data, dict) else {}), "fails its checksum (edited by hand or damaged)"
    return data, None


def read(root: str | os.PathLike | None = None) -> Bundle:
    """Read and check a bundle (default :func:`default_root`); an absent folder is an empty bundle."""
    root = Path(root) if root is not None else default_root()
    records = {p.stem: check_record(p) for p in sorted((root / "records").glob("*.json"))}
    rungs = []
    for p in sorted((root / "rungs").glob("*/*.json")):
        data, why = _check_manifest(p)
        entry = BundledRung(data.get("claim", p.parent.name), data.get("rung", p.stem), data, ok=why is None, why=why)
        for k in data.get("keys", []):
            missing = BundledRecord(k, None, False, "is named by the manifest but missing")
            entry.records.append(records.get(k) or missing)
        rungs.append(entry)
    return Bundle(root, records, rungs)


def seed_store(keys, source: str | os.PathLike, store) -> int:
    """Copy the records of ``keys`` that ``source`` (another store's folder, e.g. a finished ``cpu`` build's
    ``_cache/results``) holds, intact, and ``store`` lacks: their JSON and example maps, so that a rung
    already computed there is not computed again. Returns how many were copied."""
    src, n = Store(source), 0
    for key in keys:
        if store.path(key).is_file() or not src.path(key).is_file() or src.check(key)[1] is not None:
            continue
        store.root.mkdir(parents=True, exist_ok=True)
        maps = src.root / f"{key}.npz"
        if maps.is_file():
            shutil.copyfile(maps, store.root / maps.name)
        shutil.copyfile(src.path(key), store.path(key))
        n += 1
    return n
