import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("DEFECTBOOK_PROGRESS", "0")
os.environ.setdefault("DEFECTBOOK_OFFLINE", "1")
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
def one_thread():
    """Run a test with one torch thread (tiny matrices: avoids OpenMP thrashing on a busy machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
