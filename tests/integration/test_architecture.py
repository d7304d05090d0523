"""The architecture checks run with the tests (so CI checks them): the import contracts of
``[tool.importlinter]`` (layers, see ARCHITECTURE.md) and ``ruff check`` (``[tool.ruff]``)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    exe = BIN / name
    if exe.is_file():
        return str(exe)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]'")
    return found


def test_import_contracts_hold():
    r = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_ruff_is_clean():
    r = subprocess.run([_tool("ruff"), "check", "src", "tests", "benchmarks", "notebooks"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_settings_is_the_only_reader_of_defectbook_variables():
    read = re.compile(r"os\.(environ\.get|getenv)\(\s*[\"']DEFECTBOOK_|os\.environ\[[\"']DEFECTBOOK_\w+[\"']\](?!\s*=)")
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in sorted((ROOT / "src" / "defectbook").rglob("*.py"))
                 if p.name != "settings.py"
                 for i, line in enumerate(p.read_text().splitlines(), 1) if read.search(line)]
    assert not offenders, offenders
