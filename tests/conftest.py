import dataclasses
import json
import os
from pathlib import Path

import pytest
import torch
from helpers.toy import write_toy_mvtec

os.environ.setdefault("DEFECTBOOK_PROGRESS", "0")
os.environ.setdefault("DEFECTBOOK_OFFLINE", "1")
os.environ.setdefault("DEFECTBOOK_FEATURE_CACHE", "0")   # on where a test asks (tests/unit/test_feature_cache.py)
# Under pytest-xdist (``-n auto``: one worker per core) each worker and the notebook kernels it starts get an
# equal share of the cores (the kernels read OMP_NUM_THREADS when torch starts); alone, up to 2 threads.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]) if _WORKERS > 1 else max(1, min(2, os.cpu_count() or 1)))

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path | None:
    """The real-data folder: DEFECTBOOK_DATA, else <repo>/../shared/data; None when absent."""
    env = os.environ.get("DEFECTBOOK_DATA")
    for p in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if p.is_dir():
            return p
    return None


@pytest.fixture
def mtd_root():
    root = shared_data()
    if root is None or not (root / "mtd" / "MT_Free").is_dir():
        pytest.skip("Magnetic Tile Defects not found (set DEFECTBOOK_DATA to a folder holding mtd/)")
    return root


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Results and caches in a temporary folder."""
    monkeypatch.setenv("DEFECTBOOK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DEFECTBOOK_RESULTS", str(tmp_path / "results"))
    return tmp_path


@pytest.fixture
def toy(isolated):
    """The toy MVTec-layout category (helpers.toy) under the isolated folder; its data root."""
    return write_toy_mvtec(isolated / "data")


@pytest.fixture
def one_thread():
    """Run a test with one torch thread (tiny matrices: avoids OpenMP thrashing on a busy machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def smoke_store(tmp_path_factory):
    """Results, caches and executed notebooks of the smoke-profile runs, shared by the whole session and,
    under pytest-xdist, by all its workers (one folder beside the workers' own temporary folders)."""
    root = tmp_path_factory.getbasetemp()
    base = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "smoke"
    base.mkdir(exist_ok=True)
    old = {k: os.environ.get(k) for k in ("DEFECTBOOK_CACHE", "DEFECTBOOK_RESULTS")}
    os.environ["DEFECTBOOK_CACHE"] = str(base / "cache")
    os.environ["DEFECTBOOK_RESULTS"] = str(base / "results")
    yield base
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def smoke_execute(smoke_store):
    """``run(nb) -> (Outcome, executed path)``: each notebook is executed once in the smoke profile, for
    the whole run (the notebook tests and the browser test's smoke book share the executed copies).

    Under pytest-xdist the workers share the executions: a notebook is claimed by a file lock, executed by
    whoever holds it, and its outcome written beside it for the others. ``run.all(nbs)`` executes every
    notebook not yet done, first those no other worker holds, then waits for the rest. A notebook that reads
    every other notebook's records (``execute.LAST``) runs only after all the others are done."""
    from filelock import FileLock, Timeout

    from defectbook.book.execute import LAST, Outcome, discover, execute

    def paths(nb):
        out = smoke_store / "executed" / nb.parent.name / f"{nb.stem}.ipynb"
        return out, out.with_suffix(".outcome.json")

    def done(nb):
        out, record = paths(nb)
        return (Outcome(**json.loads(record.read_text())), out) if record.is_file() else None

    def run(nb, block=True):
        if (got := done(nb)) is not None:
            return got
        if f"{nb.parent.name}/{nb.stem}" in LAST:
            run_all([p for p in discover() if f"{p.parent.name}/{p.stem}" not in LAST])
        out, record = paths(nb)
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(str(out) + ".lock", timeout=-1 if block else 0):
                if (got := done(nb)) is None:
                    o = execute(nb, out, "smoke", timeout=600)
                    record.write_text(json.dumps(dataclasses.asdict(o)))
                    got = (o, out)
                return got
        except Timeout:
            return None

    def run_all(nbs):
        pending = [nb for nb in nbs if run(nb, block=False) is None]
        return {nb: run(nb) for nb in nbs} if pending else {nb: done(nb) for nb in nbs}

    run.all = run_all
    return run


@pytest.fixture
def profile_dir(tmp_path, monkeypatch):
    """A copy of the profile folder that a test may break (the load cache is cleared around it)."""
    from defectbook.pipeline import spec

    for f in spec.PROFILE_DIR.glob("*.yaml"):
        (tmp_path / f.name).write_text(f.read_text())
    monkeypatch.setattr(spec, "PROFILE_DIR", tmp_path)
    spec._read.cache_clear()
    yield tmp_path
    spec._read.cache_clear()


@pytest.fixture
def feature_cache(isolated, monkeypatch):
    """The process's backbone-feature cache switched on (memory and disk), empty, counters at zero."""
    from defectbook.components.features import FEATURES

    monkeypatch.setenv("DEFECTBOOK_FEATURE_CACHE", "1")
    FEATURES.clear()
    FEATURES.hits = FEATURES.misses = 0
    yield FEATURES
    FEATURES.clear()
