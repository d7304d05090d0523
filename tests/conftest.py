import os
from pathlib import Path

import pytest
import torch
from helpers.toy import write_toy_mvtec

os.environ.setdefault("DEFECTBOOK_PROGRESS", "0")
os.environ.setdefault("DEFECTBOOK_OFFLINE", "1")
os.environ.setdefault("DEFECTBOOK_FEATURE_CACHE", "0")   # on where a test asks (tests/unit/test_feature_cache.py)
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

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
    """Results, caches and executed notebooks of the smoke-profile runs, shared by the whole session."""
    base = tmp_path_factory.mktemp("smoke")
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
    """``run(nb) -> (Outcome, executed path)``: each notebook is executed once per session in the smoke
    profile (the notebook test and the browser test's smoke book share the executed copies)."""
    from defectbook.book.execute import execute

    done = {}

    def run(nb):
        if nb not in done:
            out = smoke_store / "executed" / nb.parent.name / f"{nb.stem}.ipynb"
            done[nb] = (execute(nb, out, "smoke", timeout=600), out)
        return done[nb]

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
