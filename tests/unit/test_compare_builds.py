"""benchmarks/compare_builds.py: two built books compared page by page (numbers must match; machine
measurements, hashes and times may differ)."""
import importlib.util
from pathlib import Path

import nbformat
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "compare_builds.py"


@pytest.fixture(scope="module")
def compare_builds():
    spec = importlib.util.spec_from_file_location("compare_builds", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_page(root: Path, name: str, table: str, glued: str, commit: str, executed: bool = True) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"end_time": "2026-12-06T05:00:00" if executed else None, "exception": None}
    cell = nbformat.v4.new_code_cell("show(table)")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"text/markdown": table}),
        nbformat.v4.new_output("display_data", data={"text/plain": f"**Provenance:** code {commit}"}),
        nbformat.v4.new_output("display_data", data={"application/papermill.record/text/markdown": glued},
                               metadata={"scrapbook": {"name": "summary"}}),
    ]
    nb.cells = [cell]
    path = root / "book" / "executed" / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


TABLE = "| method | image_auroc | fit_s | peak_rss_mb |\n|:--|--:|--:|--:|\n| padim | {auroc} | {fit} | {mb} |"


def test_same_numbers_pass_whatever_the_machine_measured(compare_builds, tmp_path):
    write_page(tmp_path / "a", "ch/p", TABLE.format(auroc="0.912", fit="3.1", mb="1200.5"), "PaDiM 0.912", "ab12cd3")
    write_page(tmp_path / "b", "ch/p", TABLE.format(auroc="0.912", fit="7.9", mb="1300.0"), "PaDiM 0.912", "ffee991")
    result = compare_builds.compare(tmp_path / "a", tmp_path / "b")
    assert result["pages"]["ch/p.ipynb"]["same_text"], result["pages"]["ch/p.ipynb"]["diff"]


def test_a_changed_auroc_or_glued_value_is_reported(compare_builds, tmp_path):
    write_page(tmp_path / "a", "ch/p", TABLE.format(auroc="0.912", fit="3.1", mb="1"), "PaDiM 0.912", "ab12cd3")
    write_page(tmp_path / "b", "ch/p", TABLE.format(auroc="0.913", fit="3.1", mb="1"), "PaDiM 0.912", "ab12cd3")
    write_page(tmp_path / "a", "ch/q", TABLE.format(auroc="0.9", fit="3.1", mb="1"), "PaDiM 0.900", "ab12cd3")
    write_page(tmp_path / "b", "ch/q", TABLE.format(auroc="0.9", fit="3.1", mb="1"), "PaDiM 0.901", "ab12cd3")
    pages = compare_builds.compare(tmp_path / "a", tmp_path / "b")["pages"]
    assert not pages["ch/p.ipynb"]["same_text"] and any("0.913" in d for d in pages["ch/p.ipynb"]["diff"])
    assert not pages["ch/q.ipynb"]["same_text"] and any("[glue summary]" in d for d in pages["ch/q.ipynb"]["diff"])


def test_a_page_one_build_did_not_execute_is_not_compared(compare_builds, tmp_path):
    write_page(tmp_path / "a", "ch/p", TABLE.format(auroc="0.9", fit="1", mb="1"), "x", "ab12cd3")
    write_page(tmp_path / "b", "ch/p", TABLE.format(auroc="0.1", fit="1", mb="1"), "x", "ab12cd3", executed=False)
    result = compare_builds.compare(tmp_path / "a", tmp_path / "b")
    assert result["pages"] == {} and result["only_before"] == ["ch/p.ipynb"]
