"""The book pipeline: table of contents, parameters, and a smoke-profile run of every notebook."""
import pytest
import yaml

from defectbook import DefectbookError
from defectbook.book.execute import Outcome, discover, execute, parse_params, source_of, summary
from defectbook.book.toc import toc
from defectbook.paths import repo_root

NOTEBOOKS = discover()


def test_toc_is_up_to_date():
    committed = yaml.safe_load((repo_root() / "_toc.yml").read_text())
    assert committed == toc(), "run `defectbook toc` and commit _toc.yml"


def test_every_notebook_has_parameters_cell_and_chapter():
    assert NOTEBOOKS, "no notebooks found"
    for nb in NOTEBOOKS:
        text = source_of(nb).read_text()
        assert 'tags=["parameters"]' in text, nb
        assert "profile" in text.split('tags=["parameters"]')[1].split("# %%")[0], nb
        assert (repo_root() / "book" / f"{nb.parent.name}.md").is_file(), f"chapter page for {nb.parent.name}"


def test_parse_params():
    assert parse_params(["d=50", "seeds=[0, 1]", "backbone=resnet18", "x=null"]) == \
        {"d": 50, "seeds": [0, 1], "backbone": "resnet18", "x": None}
    with pytest.raises(DefectbookError, match="KEY=VALUE"):
        parse_params(["d"])


def test_discover_filters():
    assert all(p.parent.name == "padim" for p in discover("padim/*"))
    assert discover("no-such-notebook-*") == []


def test_summary_counts_failures():
    s = summary([Outcome("a/b", "ok", 1.0), Outcome("a/c", "FAILED", 2.0, "boom")])
    assert "1 ok, 1 failed" in s


def test_failing_notebook_is_reported_not_raised(tmp_path):
    src = tmp_path / "grp" / "bad.py"
    src.parent.mkdir()
    src.write_text('# %% tags=["parameters"]\nprofile = "cpu"\n\n# %%\nraise ValueError("expected failure")\n')
    o = execute(src, tmp_path / "out" / "bad.ipynb", "smoke")
    assert o.status == "FAILED" and "expected failure" in o.error
    assert (tmp_path / "out" / "bad.ipynb").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_profile(nb, smoke_execute):
    o, out = smoke_execute(nb)  # executed once per session (conftest), shared with the browser test
    assert o.status == "ok", o.error
    assert "Provenance:" in out.read_text(), "every notebook shows a provenance line"


def test_pages_follow_the_papers_order():
    from defectbook.book.execute import paper_order

    names = ["appB_kmeans_ratio", "fig2e_backbones", "mtd", "table10_x", "fig2_sweeps", "sec37_downsampling",
             "table2_pro", "at_scale", "appA_mtd", "table1_auroc", "qualitative"]
    assert sorted(names, key=paper_order) == ["table1_auroc", "table2_pro", "table10_x", "fig2_sweeps",
                                              "fig2e_backbones", "sec37_downsampling", "mtd", "qualitative",
                                              "appA_mtd", "appB_kmeans_ratio", "at_scale"]


def test_present_collapses_code_and_merges_parameters():
    import nbformat

    from defectbook.book.execute import merge_parameters, present

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# t"),
        nbformat.v4.new_code_cell("profile = 'cpu'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("# Parameters\nprofile = 'smoke'\n", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["remove-input"]}),
        nbformat.v4.new_code_cell("y = 2")])
    nb = merge_parameters(present(nb))
    assert len(nb.cells) == 4, "the injected cell is folded in"
    assert "profile = 'cpu'" in nb.cells[1].source and "profile = 'smoke'" in nb.cells[1].source
    assert "hide-input" in nb.cells[1].metadata["tags"] and "hide-input" in nb.cells[3].metadata["tags"]
    assert nb.cells[2].metadata["tags"] == ["remove-input"], "a tag chosen in the source is kept"
