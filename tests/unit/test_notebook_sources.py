"""The notebooks read like scripts: a parameters cell, a few calls into the package, the table or
figure, and the page's summary from the records passed to it explicitly."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*/*.py"))
MAX_CODE_LINES = 60


def code_lines(text: str) -> list[str]:
    """The code lines of a jupytext percent source: not blank, not a comment, not Markdown."""
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_notebook_is_short_and_names_its_records(path):
    text = path.read_text()
    assert "{glue:md} summary" in text, "the page's summary is glued under its title"
    assert "page_summary(" in text, "the page's summary is computed from its records"
    assert "globals()" not in text, "records are passed explicitly, never found in the notebook's variables"
    n = len(code_lines(text))
    assert n <= MAX_CODE_LINES, f"{n} code lines: move the analysis into defectbook.analysis"


def test_the_line_count_skips_markdown_and_comments():
    assert code_lines("# %% [markdown]\n# text\n\nx = 1  # note\n# %%\ny = 2\n") == ["x = 1  # note", "y = 2"]
