"""Batch output: progress bars only where a person watches, log lines to a file, no kernel TCP notice."""

import pytest

from defectbook import utils
from defectbook.book import execute as reproduce


def test_progress_bars_only_on_a_terminal(monkeypatch):
    items = [1, 2, 3]
    monkeypatch.delenv("DEFECTBOOK_PROGRESS", raising=False)
    monkeypatch.delenv("DEFECTBOOK_BATCH", raising=False)
    assert utils.progress(items) is items                # pytest's stderr is no terminal: no bar
    monkeypatch.setenv("DEFECTBOOK_PROGRESS", "1")
    bar = utils.progress(items, desc="x")
    assert bar is not items and list(bar) == items       # forced on
    monkeypatch.setenv("DEFECTBOOK_PROGRESS", "")
    monkeypatch.setenv("DEFECTBOOK_BATCH", "1")

    class Tty:
        def isatty(self):
            return True

        def write(self, s):
            pass

        def flush(self):
            pass

    monkeypatch.setattr("sys.stderr", Tty())
    assert utils.progress(items) is items                # a batch build: never a bar
    monkeypatch.delenv("DEFECTBOOK_BATCH")
    assert utils.progress(items) is not items            # a terminal: a bar


def test_setup_logging_writes_a_file_once(tmp_path):
    path = tmp_path / "logs" / "batch.log"
    utils.setup_logging(path, stderr=False)
    utils.setup_logging(path, stderr=False)              # no second handler
    try:
        utils.log.info("one line")
        for h in utils.log.handlers:
            h.flush()
        assert path.read_text().count("one line") == 1
    finally:
        for h in [h for h in utils.log.handlers if getattr(h, "_defectbook", "") == f"file:{path}"]:
            utils.log.removeHandler(h)
            h.close()


@pytest.mark.parametrize("silenced", [True, False])
def test_kernel_logs_to_the_batch_file_without_the_tcp_notice(silenced, tmp_path, monkeypatch, capfd):
    src = tmp_path / "grp" / "nb.py"
    src.parent.mkdir()
    src.write_text(
        '# %% tags=["parameters"]\nprofile = "cpu"\n\n# %%\nfrom defectbook.pipeline import run as experiment\n'
        'experiment.log.info("hello from the " + "kernel")\n'
    )
    log_file = tmp_path / "batch.log"
    monkeypatch.setenv("DEFECTBOOK_LOG", str(log_file))
    if not silenced:
        monkeypatch.setattr(reproduce, "KERNEL_ARGS", [])
    o = reproduce.execute(src, tmp_path / "out" / "nb.ipynb", "smoke")
    assert o.status == "ok", o.error
    assert "hello from the kernel" in log_file.read_text()
    err = capfd.readouterr().err
    assert ("without encryption" in err) is not silenced
    assert "hello from the kernel" not in (tmp_path / "out" / "nb.ipynb").read_text()   # not in the book
