"""The reproducibility report quotes its pages: every filled cell is the value its page computes from the records
that page shows, never another page's run of the same method (hand-built records, the pages' own configs)."""
from pathlib import Path

import pytest

from defectbook.analysis import differnet, npad
from defectbook.book import paper_values, report
from defectbook.book import reproducibility as R
from defectbook.paths import repo_root
from defectbook.pipeline import spec
from defectbook.pipeline.ledger import NOTEBOOK_ENV
from defectbook.pipeline.store import Record


def _record(cfg: dict, key: str, image: float, pixel: float | None = None) -> Record:
    return Record(key=key, config=cfg, metrics={"image_auroc": image, "pixel_auroc": pixel, "aupro": None},
                  timings={"fit_s": 1.0, "predict_images_per_s": 10.0}, memory={}, scores=[], labels=[0, 1],
                  defects=[])


def _filled(rep):
    return rep[rep["verdict"] != "not computed"]


def test_npad_appendix_a_quotes_the_mtd_page_not_a_capped_split_of_another_page():
    """The page's records and a decoy of each method (the same config, run by another page with other
    numbers) listed first: the report takes the page's, and each filled cell equals the page's table."""
    S = spec.chapter("npad", "paper")
    page = [_record(S.config(m, "mtd", None, seed=s), f"{m}{s}", 0.80 + 0.03 * i + 0.01 * s, 0.90 + 0.01 * i)
            for i, m in enumerate(("padim", "patchcore", "npad")) for s in (0, 1)]
    decoys = [_record(S.config(m, "mtd", None, seed=s), f"other-{m}{s}", 0.5, 0.5)
              for m in ("padim", "patchcore", "npad") for s in (0, 1)]
    shown = {"npad/appA_mtd": {r.key for r in page}, "npad/appA_mtd_patchcore": {r.key for r in decoys}}
    rep, _ = R.judge("paper", records=decoys + page, shown=shown, tables=["npad_appA_mtd"])
    paper = paper_values.load("npad_appA_mtd").set_index("method")
    table = npad.mtd_table(page, paper)
    filled = _filled(rep)
    assert len(filled) == 6, "image and pixel AUROC of three methods"
    for row in filled.itertuples():
        assert row.page == "npad/appA_mtd" and set(row.records) <= shown["npad/appA_mtd"]
        assert row.ours == pytest.approx(table.loc[row.row, row.column]), (row.row, row.column)


def test_differnet_mtd_quotes_the_mtd_page_and_shows_the_backbone_difference():
    """DifferNet's Table 2 at the cpu profile: the page's 1-NN and OCSVM (its MTD settings), not another
    page's; same data as the paper, other backbone and scale: the tier that shows the difference."""
    S = spec.chapter("differnet", "cpu")
    page = [_record(S.config(m, "mtd", None, seed=s, save_maps=0), f"{m}{s}", 0.7 + 0.1 * i + 0.02 * s)
            for i, m in enumerate(differnet.MTD_METHODS) for s in S.seeds]
    decoys = [_record(S.config(m, "mtd", None, seed=s), f"other-{m}{s}", 0.6) for m in differnet.MTD_METHODS
              for s in S.seeds]
    shown = {"differnet/table2_mtd": {r.key for r in page}, "differnet/fig7_fewshot": {r.key for r in decoys}}
    rep, _ = R.judge("cpu", records=decoys + page, shown=shown, tables=["differnet_table2_mtd"])
    paper = paper_values.load("differnet_table2_mtd").set_index("method")["image_auroc"]
    table = differnet.mtd_table(page, paper)
    filled = _filled(rep)
    assert set(filled["row"]) == {"DifferNet", "1-NN", "OCSVM"}
    for row in filled.itertuples():
        assert row.ours == pytest.approx(table.loc[row.row, "ours"]) and row.page == "differnet/table2_mtd"
        assert row.verdict == R.TIER and "cpu profile" in row.why
        assert row.Δ == pytest.approx(table.loc[row.row, "Δ (ours - paper)"])


def test_a_page_that_did_not_run_leaves_its_cells_not_computed():
    S = spec.chapter("npad", "paper")
    rec = _record(S.config("npad", "mtd", None, seed=0), "n0", 0.9)
    rep, _ = R.judge("paper", records=[rec], shown={"npad/appA_mtd_patchcore": {"n0"}}, tables=["npad_appA_mtd"])
    assert (rep["verdict"] == "not computed").all() and (rep["why"] == "its page did not run in this build").all()
    assert rep["ours"].isna().all()


def test_pages_name_the_records_they_show(tmp_path, monkeypatch):
    """A page run in a batch build (the kernel knows its notebook) leaves the keys of its summary's records,
    per profile and dry-run mode; the report reads them back."""
    monkeypatch.setenv("DEFECTBOOK_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv(NOTEBOOK_ENV, "npad/appA_mtd")
    S = spec.chapter("npad", "cpu")
    recs = [_record(S.config("npad", "mtd", None, seed=0), "a", 0.9), _record(S.config("padim", "mtd", None), "b", 0.8)]
    report.page_summary(recs + recs[:1])
    assert report.load_shown("cpu") == {"npad/appA_mtd": {"a", "b"}}
    assert report.load_shown("cpu", dry_run=True) == {} and report.load_shown("paper") == {}
    monkeypatch.delenv(NOTEBOOK_ENV)
    monkeypatch.setenv("DEFECTBOOK_RESULTS", str(tmp_path / "elsewhere" / "results"))
    report.page_summary(recs)
    assert report.load_shown("cpu") == {}, "outside a batch build no page is named"


def test_every_table_names_a_page_that_shows_its_paper_values():
    cells, _ = R.cells()
    for page in {c.page for c in cells}:
        src = Path(repo_root(), "notebooks", f"{page}.py")
        assert src.is_file(), f"reproductions.yaml names {page}, which is no notebook"
        tables = {c.table for c in cells if c.page == page}
        text = src.read_text()
        assert any(t in text or t.rsplit("_", 1)[0] in text for t in tables), f"{page} loads none of {tables}"
