"""Every results page judges its claims by the ledger's one rule: it names a ledger claim of its own in
``report.claim_verdict`` and computes no verdict of its own."""
import ast
import re

from defectbook.analysis import claims
from defectbook.book.execute import discover, source_of

#: Helpers that compute an interval or a verdict word: a page that imports one judges by itself.
OWN_VERDICT = {"verdict", "verdict_word", "direction_word", "combine_words", "pair_effect", "paired_effect", "interval",
               "image_bootstrap", "unit_bootstrap", "in_band", "auroc_difference"}


#: The reproducibility report: its cells compare values, not directions (its own words).
REPORT = {"benchmark/reproducibility"}


def _pages():
    """``{group/page: the notebook source it executes}`` (a page of a pages file: its source)."""
    return {f"{nb.parent.name}/{nb.stem}": source_of(nb) for nb in discover()}


def test_every_ledger_claim_is_judged_on_its_page():
    pages = _pages()
    for c in claims.ledger().values():
        assert c.page in pages, f"{c.id}: no page {c.page}"
        assert f'claim_verdict(\n    "{c.id}"' in pages[c.page].read_text() or \
            f'claim_verdict("{c.id}"' in pages[c.page].read_text(), f"{c.page} does not judge {c.id}"


def test_no_page_computes_its_own_verdict():
    ledger = claims.ledger()
    for name, nb in _pages().items():
        tree = ast.parse(nb.read_text())
        imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        assert not imported & OWN_VERDICT, f"{name} imports {sorted(imported & OWN_VERDICT)}"
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "claim_verdict"]
        for call in calls:
            first = call.args[0] if call.args else None
            assert isinstance(first, ast.Constant) and first.value in ledger, f"{name}: no ledger id"
            assert ledger[first.value].page == name, f"{name} judges {first.value}, a claim of another page"
        assert name in REPORT or not re.search(r"\b(reproduced|reversed)\b", " ".join(
            ln for ln in nb.read_text().splitlines() if ln.startswith("#") and "verdict" in ln)), \
            f"{name} describes its verdict in the old words"


def test_results_pages_of_the_papers_all_judge_a_claim():
    judged = {c.page for c in claims.ledger().values()}
    papers = {"padim", "npad", "differnet", "trustmae", "ndpnet"}
    results = {p for p, nb in _pages().items()
               if p.split("/")[0] in papers and "scale_page(" not in nb.read_text()}   # not the "At larger scale" pages
    assert results == judged
