"""Check every artifact of a store before anyone relies on it (``defectbook store verify``).

What the program writes and later reads back, and what each check refuses:

* **records** (``results/<key>.json``): readable, the shape of a record, checksum right, stored under
  its own key, example maps (``<key>.npz``) present and unchanged; *stale* when today's code would
  key its config differently (it is never served again, only kept);
* **models** (``models/<key>-<code version>/``): ``params.json`` checksum, a registered class, the
  parameters accepted by the method, ``state.pt`` the one saved with it, the folder named after the
  key and code version it was saved with; *stale* when written by other model code;
* **feature cache** (``features/*.pt``): key, shape and digest of each tensor;
* **synthetic data** (``synthetic/``): the manifest of every generated category against its files.

Each load path makes the same checks on its own (a refused artifact is recomputed); this module
runs them all at once and reports, so a store shared between users or copied between machines can
be checked before a batch.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from .. import DefectbookError
from ..components.features import FEATURES
from ..data.synthetic import verify_cache
from ..methods.base import _instantiate, code_version, read_saved_meta
from ..paths import cache_dir, results_dir
from .keys import key_of
from .store import Store


@dataclass
class Finding:
    """One artifact that did not pass: ``kind`` (record, maps, model, features, synthetic), its
    ``path``, the ``problem`` in words, and ``refused`` (False: stale or left over, harmless but unused)."""

    kind: str
    path: Path
    problem: str
    refused: bool = True

    def line(self) -> str:
        return f"{'refused' if self.refused else 'stale':<8} {self.kind:<9} {self.path}: {self.problem}"


@dataclass
class Report:
    """What :func:`verify_store` checked (``checked``: artifacts per kind) and what it found."""

    checked: dict
    findings: list

    @property
    def refused(self) -> list[Finding]:
        return [f for f in self.findings if f.refused]

    def summary(self) -> str:
        counts = ", ".join(f"{n} {k}" for k, n in self.checked.items())
        stale = len(self.findings) - len(self.refused)
        return f"checked {counts}: {len(self.refused)} refused, {stale} stale or left over"


def verify_records(root: Path, rekey: bool = True) -> tuple[int, list[Finding]]:
    """Every record of the results folder ``root`` (see :meth:`defectbook.pipeline.store.Store.check`);
    with ``rekey`` also whether today's code gives its config the same key (real data must be
    where the record says, else the key is reported as not checkable)."""
    store, findings, memo = Store(root), [], {}
    keys = store.keys()
    for key in keys:
        data, why = store.check(key)
        if why is not None:
            findings.append(Finding("record", store.path(key), why))
            continue
        if rekey:
            try:
                now = key_of(data["config"], memo)
            except (DefectbookError, KeyError, TypeError, ValueError) as e:
                findings.append(Finding("record", store.path(key), f"key not checkable today ({e})", refused=False))
                continue
            if now != key:
                findings.append(Finding("record", store.path(key), f"stale: today's code keys its config as {now}",
                                        refused=False))
    for npz in sorted(root.glob("*.npz")) if root.is_dir() else []:
        if not store.path(npz.stem).is_file():
            findings.append(Finding("maps", npz, "example maps without a record", refused=False))
    return len(keys), findings


def verify_models(root: Path) -> tuple[int, list[Finding]]:
    """Every saved model folder under ``root`` (the model store)."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []
    findings = []
    for folder in folders:
        try:
            meta = read_saved_meta(folder)
            _instantiate(meta, "cpu")                     # the parameters pass the method's checks
        except DefectbookError as e:
            findings.append(Finding("model", folder, str(e)))
            continue
        if folder.name != f"{meta.get('key')}-{meta.get('code_version')}":
            findings.append(Finding("model", folder, f"saved for key {meta.get('key')} and code "
                                                     f"{meta.get('code_version')}, not for its folder's name"))
        elif meta.get("code_version") != code_version():
            findings.append(Finding("model", folder, "stale: written by other model code", refused=False))
    return len(folders), findings


def verify_features(folder: Path) -> tuple[int, list[Finding]]:
    """Every file of the backbone-feature cache in ``folder``."""
    n = len(list(folder.glob("*.pt"))) if folder.is_dir() else 0
    return n, [Finding("features", p, why) for p, why in FEATURES.verify(folder)]


def verify_synthetic(folder: Path) -> tuple[int, list[Finding]]:
    """Every generated synthetic data set under ``folder`` against its manifest."""
    sets = [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    return len(sets), [Finding("synthetic", p, why) for p, why in verify_cache(folder)]


def verify_store(cache: str | Path | None = None, results: str | Path | None = None,
                 rekey: bool = True) -> Report:
    """Check every artifact of a store: the records under ``results`` (default
    :func:`~defectbook.paths.results_dir`), and the models, feature cache and synthetic data under
    ``cache`` (default :func:`~defectbook.paths.cache_dir`; a ``cache`` given without ``results``
    means its own ``results`` folder)."""
    given = cache is not None
    cache = Path(cache) if given else cache_dir()
    results = Path(results) if results is not None else (cache / "results" if given else results_dir())
    checked, findings = {}, []
    for kind, (n, found) in (("records", verify_records(results, rekey)), ("models", verify_models(cache / "models")),
                             ("feature files", verify_features(cache / "features")),
                             ("synthetic data sets", verify_synthetic(cache / "synthetic"))):
        checked[kind] = n
        findings += found
    return Report(checked, findings)


def remove(findings: list[Finding]) -> int:
    """Delete the refused artifacts of ``findings`` (they are recomputed on the next run); returns
    how many were removed."""
    n = 0
    for f in findings:
        if not f.refused or not f.path.exists():
            continue
        if f.path.is_dir():
            shutil.rmtree(f.path)
        else:
            f.path.unlink()
            if f.kind == "record":
                f.path.with_suffix(".npz").unlink(missing_ok=True)
        n += 1
    return n


def main(cache: str | None, results: str | None, delete: bool, rekey: bool, as_json: bool) -> int:
    """``defectbook store verify``: one line per finding and a summary; exit status 1 when anything
    was refused (and not removed with ``--remove``)."""
    report = verify_store(cache, results, rekey)
    if as_json:
        print(json.dumps({"checked": report.checked, "findings": [
            {"kind": f.kind, "path": str(f.path), "problem": f.problem, "refused": f.refused}
            for f in report.findings]}, indent=1))
    else:
        for f in report.findings:
            print(f.line())
        print(report.summary())
    if delete and report.refused:
        print(f"removed {remove(report.refused)} refused artifacts: the next run recomputes them")
        return 0
    return 1 if report.refused else 0
