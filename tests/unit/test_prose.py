"""No typed numbers: the book's prose quotes no result by hand.

The rule (also stated in book/rerun.md). Prose is every ``book/**/*.md`` page (not the executed
notebooks) and every Markdown cell of ``notebooks/*/*.py``. A number in prose that *looks like a
result* must be generated: glued from the records (myst-nb ``{glue:...}``) or printed by a notebook
in a generated table. A number looks like a result when it

- has a decimal point (``0.859``, ``98.22``, ``1.8``), or
- carries a percent sign (``40 %``, ``5-40 %``, ``10%``), or
- carries a unit of time or memory (``88 s``, ``12 ms``, ``3 min``, ``2 h``, ``1 GiB``, ``512 MB``).
  Percentages count as results even when they describe a setting (a split share, a quantile): write
  such settings as code (``train_share=0.8``) or in words.

Integers without a unit may be typed: years, table / figure / equation / section numbers, and the
settings of a run (image sizes, radii, epochs, numbers of images), which are inputs, not results.
Code spans, fenced code, math and glue roles and directives are not prose and are not scanned;
a setting with decimals is written as code (``kmeans_ratio=0.1``).
"""
from __future__ import annotations

import re

import jupytext
import pytest
from helpers.prose import typed_numbers

from defectbook.paths import repo_root


def sources() -> dict[str, str]:
    root = repo_root()
    out = {str(p.relative_to(root)): p.read_text() for p in sorted((root / "book").rglob("*.md"))
           if "executed" not in p.parts and "_build" not in p.parts}
    for nb in sorted((root / "notebooks").glob("*/*.py")):
        cells = jupytext.read(nb).cells
        out[str(nb.relative_to(root))] = "\n\n".join(c.source for c in cells if c.cell_type == "markdown")
    return out


def test_rule_flags_results_and_spares_settings():
    assert typed_numbers("AUROC 0.859 against 86.88, robust at 5-40 % noise, 1135 s, 1.8 GiB") == \
        ["0.859", "86.88", "5-40 %", "1135 s", "1.8"]
    spared = ("Table 1, Fig. 2(e), Eq. 12-14, Sec. 4.3 and 3.7 in 2023; 300 images at 224 px, radius 3, WRN-50, "
              "layer2, `kmeans_ratio=0.1`, $\\beta = 0.5$, {glue:text}`npad_auroc`, [v1.2](https://x/1.5).")
    assert typed_numbers(spared) == []
    fenced = "```{glue:md} summary\n:format: myst\n```\n```{note}\nthe gap is 0.04\n```"
    assert typed_numbers(fenced) == ["0.04"]


@pytest.mark.parametrize("name", sorted(sources()))
def test_prose_quotes_no_typed_result(name):
    found = typed_numbers(sources()[name])
    assert not found, (f"{name} types result-looking numbers {found}: glue them from the records "
                       "(myst-nb glue) or leave them to the generated tables (rule: tests/unit/test_prose.py)")


PROCESS_WORDS = re.compile(r"\bissue\s*#?\d+|\bthe issue's\b|\bissue's\b", re.I)


def test_no_process_words_for_readers_or_in_code():
    """Pages, notebooks, profiles, the package and the benchmark scripts say what and why, never which
    tracker item asked for it ("issue 12")."""
    root = repo_root()
    files = [*root.glob("book/**/*.md"), *root.glob("notebooks/*/*.py"), *root.glob("benchmarks/*"),
             *root.glob("src/defectbook/**/*.py"), *root.glob("src/defectbook/**/*.yaml"),
             root / "README.md", root / "ARCHITECTURE.md"]
    found = [f"{f.relative_to(root)}: {m.group(0)!r}" for f in files if f.is_file() and "executed" not in f.parts
             for m in PROCESS_WORDS.finditer(f.read_text(errors="ignore"))]
    assert not found, found
