"""One notebook source executed as several pages with their own parameters (``notebooks/<group>/pages.yaml``),
and the self-contained HTML page of an executed notebook (defectbook.book.standalone)."""
import nbformat
import pytest

from defectbook import DefectbookError
from defectbook.book import execute
from defectbook.book.standalone import notebook_html
from defectbook.paths import repo_root

SOURCE = '# %% [markdown]\n# # T\n\n# %% tags=["parameters"]\nprofile = "cpu"\ndataset = None\n\n# %%\nx = 1\n'


@pytest.fixture
def group(tmp_path):
    g = tmp_path / "notebooks" / "g"
    g.mkdir(parents=True)
    (g / "page.py").write_text(SOURCE)
    (g / "plain.py").write_text(SOURCE)
    (g / "pages.yaml").write_text("page_a: {source: page, parameters: {dataset: a}}\n"
                                  "page_b: {source: page, parameters: {dataset: b, category: mono}}\n")
    return g


def test_pages_replace_their_source(group):
    found = execute.discover(base=group.parent)
    assert [p.stem for p in found] == ["page_a", "page_b", "plain"]
    a = group / "page_a.py"
    assert execute.source_of(a) == group / "page.py" and execute.page_parameters(a) == {"dataset": "a"}
    plain = group / "plain.py"
    assert execute.source_of(plain) == plain and execute.page_parameters(plain) == {}
    assert execute.notebook_parameters(a) == {"profile": "cpu", "dataset": None}, "read from the source"
    assert [p.stem for p in execute.discover("g/page_b", group.parent)] == ["page_b"]


@pytest.mark.parametrize("text, message", [
    ("x: {source: nope}\n", "names source 'nope'"),
    ("x: [1, 2]\n", "must be a mapping"),
    ("x: {source: page, parameters: 3}\n", "must be a mapping"),
    ("plain: {source: page}\n", "has the name of a notebook source"),
])
def test_a_wrong_pages_file_is_an_error_naming_it(group, text, message):
    (group / "pages.yaml").write_text(text)
    with pytest.raises(DefectbookError, match=message):
        execute.discover(base=group.parent)


def test_the_books_comparison_pages():
    found = {p.stem: p for p in execute.discover("benchmark/*")}
    assert "compare" not in found
    assert execute.page_parameters(found["compare_mtd"]) == {"dataset": "mtd"}
    assert execute.page_parameters(found["compare_elpv"]) == {"dataset": "elpv", "category": "mono"}
    assert execute.source_of(found["compare_elpv"]) == repo_root() / "notebooks" / "benchmark" / "compare.py"
    text = (repo_root() / "book" / "benchmark.md").read_text()
    assert "executed/benchmark/compare_mtd" in text and "executed/benchmark/compare_elpv" in text


def test_standalone_page_glues_the_summary_and_hides_code():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title\n\n```{glue:md} summary\n:format: myst\n```\n\nText with "
                                      "{glue:text}`word`.\n\n```{admonition} Note\n:class: note\nBoxed.\n```"),
        nbformat.v4.new_code_cell("profile = 'cpu'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("secret_code()", outputs=[
            nbformat.v4.new_output("display_data", {"text/markdown": "| a | b |\n|---|---|\n| 1 | 2 |"}),
            nbformat.v4.new_output("display_data", {"image/png": "iVBORw0KGgo="}),
            nbformat.v4.new_output("stream", name="stderr", text="a progress bar")]),
        nbformat.v4.new_code_cell("glue()", metadata={"tags": ["remove-cell"]}, outputs=[
            nbformat.v4.new_output("display_data", {"application/papermill.record/text/markdown": "**Glued** sum."},
                                   metadata={"scrapbook": {"name": "summary", "mime_prefix": ""}}),
            nbformat.v4.new_output("display_data", {"application/papermill.record/text/plain": "'yes'"},
                                   metadata={"scrapbook": {"name": "word", "mime_prefix": ""}})]),
    ])
    html = notebook_html(nb)
    assert "<title>Title</title>" in html and "<strong>Glued</strong> sum." in html and "Text with yes." in html
    assert "<table>" in html and 'src="data:image/png;base64,iVBORw0KGgo="' in html
    assert '<div class="note">' in html and "Boxed." in html and "{glue" not in html and ":class:" not in html
    assert "secret_code" not in html and "a progress bar" not in html
    assert "<summary>Parameters of this run</summary><pre>profile = &#x27;cpu&#x27;</pre>" in html
