"""The glibc malloc settings (defectbook.settings.HEAP_ENV) that a build gives the processes running experiments."""
import os
import subprocess
import sys

from defectbook import settings
from defectbook.book.execute import batch_environment

SHOW = "import os; print(os.environ.get('MALLOC_MMAP_MAX_'), os.environ.get('MALLOC_TRIM_THRESHOLD_'))"


def test_a_batch_gives_its_kernels_the_heap_settings_and_keeps_a_users_own(monkeypatch):
    for name in settings.HEAP_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "12345")           # the user's value wins
    assert settings.heap_env() == {k: v for k, v in settings.HEAP_ENV.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    with batch_environment():                                          # a kernel is a child process
        seen = subprocess.run([sys.executable, "-c", SHOW], capture_output=True, text=True, check=True).stdout.split()
    assert seen == [settings.HEAP_ENV["MALLOC_MMAP_MAX_"], "12345"]
    assert "MALLOC_MMAP_MAX_" not in os.environ and os.environ["MALLOC_TRIM_THRESHOLD_"] == "12345"   # restored


def test_heap_settings_are_the_ones_the_makefile_exports():
    text = open(os.path.join(os.path.dirname(__file__), "..", "..", "Makefile")).read()
    for name, value in settings.HEAP_ENV.items():
        assert f"export {name} ?= {value}\n" in text
