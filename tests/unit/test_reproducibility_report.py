"""The generated reproducibility report: verdict rules, the declared mapping's coverage, missing records."""
import math

import pandas as pd
import pytest
from helpers.prose import typed_numbers

from defectbook import DefectbookError
from defectbook.book import paper_values, plotting
from defectbook.book import reproducibility as R
from defectbook.pipeline import spec
from defectbook.pipeline.store import Record

# --- verdict rules --------------------------------------------------------------------------------

def test_each_word_is_reachable_and_boundaries_hold():
    tol, k = 0.02, 2.0
    assert R.verdict_of(0.90, [], tol, k)["verdict"] == "not computed"
    assert R.verdict_of(0.90, [float("nan")], tol, k)["verdict"] == "not computed"
    assert R.verdict_of(0.90, [0.90], tol, k, comparable="different data")["verdict"] == "not comparable"
    assert R.verdict_of(0.90, [0.91, 0.89], tol, k)["verdict"] == "value matches"
    # exactly at the tolerance: matches; just beyond with one seed: differs (no spread to appeal to)
    assert R.verdict_of(0.90, [0.92], tol, k)["verdict"] == "value matches"
    assert R.verdict_of(0.90, [0.88], tol, k)["verdict"] == "value matches"
    assert R.verdict_of(0.90, [0.9201], tol, k)["verdict"] == "value differs"
    # beyond the tolerance but within tolerance + k sd of the seeds: matches within noise
    v = R.verdict_of(0.90, [0.97, 0.91], tol, k)       # Δ = 0.04, sd = 0.0424: 0.04 <= 0.02 + 0.085
    assert v["verdict"] == "value matches" and "within noise" in v["why"] and v["n"] == 2
    assert v["sd"] == pytest.approx(0.0424, abs=1e-3)
    v = R.verdict_of(0.90, [0.96, 0.96, 0.961], tol, k)  # Δ = 0.06, sd tiny
    assert v["verdict"] == "value differs"
    # the boundary of the noise rule: |Δ| == tol + k sd is within noise
    sd = pd.Series([0.93, 0.95]).std()
    edge = 0.90 + tol + k * sd
    assert R.verdict_of(0.90 + (0.94 - edge), [0.93, 0.95], tol, k)["verdict"] == "value matches"
    assert R.verdict_of(0.90 + (0.94 - edge) - 1e-6, [0.93, 0.95], tol, k)["verdict"] == "value differs"
    # a not-comparable cell still reports ours, the difference and the interval
    v = R.verdict_of(0.5, [0.6, 0.7], tol, k, comparable="smoke")
    assert v["ours"] == pytest.approx(0.65) and v["diff"] == pytest.approx(0.15) and v["low"] < 0.65 < v["high"]
    # the same data but another backbone: its own tier, saying whether the value would match
    v = R.verdict_of(0.90, [0.95], tol, k, caveat="backbone x, the paper's y")
    assert v["verdict"] == R.TIER and v["why"] == "backbone x, the paper's y; |Δ| > 0.02 (one seed: no spread)"
    assert R.verdict_of(0.90, [0.91], tol, k, caveat="x")["why"] == "x; |Δ| ≤ 0.02"
    assert set(R.VERDICTS) == set(plotting.VERDICT_COLOURS)


# --- the declared mapping covers every row ---------------------------------------------------------

def test_every_paper_values_table_is_declared_with_a_tolerance():
    tables = set(paper_values.available())
    assert tables == set(R.mapping()), "every paper_values CSV needs an entry in reproductions.yaml"
    assert tables == set(R.tolerances().index), "every paper_values CSV needs a row in tolerances.csv"
    t = R.tolerances()
    assert (t["tolerance"] > 0).all() and (t["noise_k"] >= 0).all()


def test_every_csv_row_has_a_selector_or_is_quoted():
    cells, quoted = R.cells()       # raises on a row without a declaration
    reproduced = {(c.table, c.row) for c in cells}
    for table, d in R.mapping().items():
        df = R.raw(table)
        labels = ([c for c in df.columns if c not in set(d.get("skip_columns", [])) | {d.get("category")}]
                  if d["label"] == "column" else list(df[d["label"]].astype(str).unique()))
        rows = {str(k): v for k, v in d["rows"].items()}
        assert set(labels) == set(rows), f"{table}: rows and declarations differ: {set(labels) ^ set(rows)}"
        for lab in labels:
            if "quoted" in rows[lab]:
                assert {"table": table, "row": lab, "why": rows[lab]["quoted"]} in quoted
            else:
                assert (table, lab) in reproduced, f"{table}: row {lab!r} is declared but yields no cell"
    assert {c.table for c in cells} == set(R.mapping())
    assert {c.paper for c in cells} == set(R.PAPERS.values())


def test_a_new_csv_row_without_declaration_fails(monkeypatch):
    real = R.mapping()
    broken = {k: dict(v) for k, v in real.items()}
    broken["npad_appA_mtd"] = dict(broken["npad_appA_mtd"], rows={"PaDiM": {"method": "padim"}})
    monkeypatch.setattr(R, "mapping", lambda: broken)
    with pytest.raises(DefectbookError, match="no declaration"):
        R.cells(["npad_appA_mtd"])


@pytest.mark.parametrize("dry", ["", "1"])
def test_selectors_resolve_in_every_profile(monkeypatch, dry):
    monkeypatch.setenv("DEFECTBOOK_DRY_RUN", dry)
    cells, _ = R.cells()
    for profile in spec.PROFILES:
        grids = {ch: spec.chapter(ch, profile).grids for ch in {c.chapter for c in cells}}
        for c in cells:
            R.selector_params(dict(c.selector, _row=c.row), grids[c.chapter])
            R._resolve(c.selector.get("transform"), grids[c.chapter])
            R._resolve(c.selector.get("split", {}), grids[c.chapter])


# --- finding records: missing cells are reported, not dropped --------------------------------------

def _record(cfg: dict, key: str, **metrics) -> Record:
    return Record(key=key, config=cfg, metrics=metrics, timings={}, memory={}, scores=[], labels=[0, 1], defects=[])


def _everywhere(records) -> dict:
    """Every page showing every record (the tests of matching, where which page shows what is not the point)."""
    return {c.page: {r.key for r in records} for c in R.cells()[0]}


def test_missing_records_are_reported_as_not_computed():
    cells, _ = R.cells(["npad_appA_mtd", "npad_table3_ablation"])
    report, quoted = R.judge("cpu", records=[], shown={}, tables=["npad_appA_mtd", "npad_table3_ablation"])
    assert len(report) == len(cells) and (report["verdict"] == "not computed").all()
    miss = R.missing(report)
    assert miss["cells"].sum() == len(cells)
    assert set(miss["row"]) == {c.row for c in cells}
    assert list(quoted["row"]) == ["DifferNet"]
    assert R.counts(report).loc["N-pad", "not computed"] == len(cells)


def test_records_found_and_judged_against_the_paper():
    """Paper profile, MTD, WRN-50: comparable; a value at the paper's is reproduced, an ablation
    record never stands in for the full method, and a synthetic record is not comparable."""
    S = spec.chapter("npad", "paper")
    paper = paper_values.load("npad_appA_mtd").set_index("method")
    recs = []
    for seed in (0, 1):
        cfg = S.config("npad", "mtd", None, seed=seed)
        recs.append(_record(cfg, f"n{seed}", image_auroc=float(paper.loc["N-pad", "image_auroc"]) + 0.005,
                            pixel_auroc=0.5))
        cfg = S.config("npad", "mtd", None, seed=seed, use_shift=False)      # an ablation: not N-pad's row
        recs.append(_record(cfg, f"a{seed}", image_auroc=0.0, pixel_auroc=0.0))
    cfg = S.config("padim", "mtd", None, seed=0)
    recs.append(_record(cfg, "p0", image_auroc=float(paper.loc["PaDiM", "image_auroc"]) - 0.1, pixel_auroc=None))
    report, _ = R.judge("paper", records=recs, shown=_everywhere(recs),
                        tables=["npad_appA_mtd"])
    v = report.set_index(["row", "column"])["verdict"]
    assert v[("N-pad", "image_auroc")] == "value matches"
    assert v[("N-pad", "pixel_auroc")] == "value differs"
    assert v[("PaDiM", "image_auroc")] == "value differs"
    assert v[("PaDiM", "pixel_auroc")] == "not computed"
    assert v[("PatchCore", "image_auroc")] == "not computed"
    row = report.set_index(["row", "column"]).loc[("N-pad", "image_auroc")]
    assert row["seeds"] == "0, 1" and row["Δ"] == pytest.approx(0.005)

    # the same cells on a synthetic stand-in (cpu profile) are not comparable
    C = spec.chapter("npad", "cpu")
    syn = [_record(C.config("npad", "synthetic", "wood", seed=0), "s0", pixel_auroc=0.98)]
    report, _ = R.judge("cpu", records=syn, shown=_everywhere(syn),
                        tables=["npad_table1_auroc"])
    got = report[report["verdict"] != "not computed"]
    assert set(got["verdict"]) == {"not comparable"}
    assert set(got["category"]) == {"wood", "mean"}          # the wood cell and the average over what ran
    assert got["why"].str.contains("different data").all()
    # ... and never stand in for MTD's table (no synthetic stand-in replaces a real dataset's own table)
    report, _ = R.judge("cpu", records=syn, shown=_everywhere(syn),
                        tables=["npad_appA_mtd"])
    assert (report["verdict"] == "not computed").all()
    # ... nor does an MTD record stand in for an MVTec AD table's rows
    mtd = [_record(C.config("npad", "mtd", None, seed=0), "m0", pixel_auroc=0.9, image_auroc=0.9)]
    report, _ = R.judge("cpu", records=mtd, shown=_everywhere(mtd),
                        tables=["npad_table1_auroc", "npad_table3_ablation"])
    assert (report["verdict"] == "not computed").all()


def test_scores_by_pooling_and_baseline_deltas():
    """TrustMAE's max / mean pooled rows read the record's pooled scores; NDP-Net's Table VI deltas are
    the variant minus the full model, paired by seed."""
    from defectbook.methods.ndpnet import ABLATIONS

    S = spec.chapter("ndpnet", "cpu")
    d, c = S.pair(S.grids["ablation_category"])
    full = _record(S.config("ndpnet", d, c, seed=0), "f", image_auroc=0.9, pixel_auroc=0.8)
    var = _record(S.config("ndpnet", d, c, seed=0, **ABLATIONS["B: w/o RBAM"]), "b", image_auroc=0.85, pixel_auroc=0.8)
    report, _ = R.judge("cpu", records=[full, var], shown=_everywhere([full, var]),
                        tables=["ndpnet_table6_ablation_deltas"])
    row = report.set_index(["row", "column"]).loc[("B: w/o RBAM", "delta_image_auroc")]
    assert row["ours"] == pytest.approx(-0.05) and row["verdict"] == "not comparable"

    T = spec.chapter("trustmae", "cpu")
    r = _record(T.config("trustmae", "synthetic", "wood", seed=0), "t", image_auroc=0.5)
    r.labels = [0, 0, 1, 1]
    r.extras = {"scores_by_pooling": {"max": [0.1, 0.2, 0.3, 0.4], "mean": [0.4, 0.3, 0.2, 0.1]}}
    report, _ = R.judge("cpu", records=[r], shown=_everywhere([r]),
                        tables=["trustmae_table1"])
    got = report[(report["category"] == "wood")].set_index("row")["ours"]
    assert got["TrustMAE-noise free (max)"] == pytest.approx(1.0)
    assert got["TrustMAE-noise free (mean)"] == pytest.approx(0.0)
    assert math.isnan(got.get("MemAE [12]", float("nan")))


def test_the_report_notebook_runs_last():
    from defectbook.book.execute import discover

    nbs = discover()
    assert f"{nbs[-1].parent.name}/{nbs[-1].stem}" == "benchmark/reproducibility"


def test_reproducibility_notes_link_the_report_and_type_no_result():
    """The chapters' notes point to the generated report and quote no figure by hand (the rule of
    tests/unit/test_prose.py, applied to every note)."""
    from pathlib import Path

    from defectbook.paths import repo_root

    notes = sorted(Path(repo_root(), "book", "reproducibility").glob("*.md"))
    assert {p.stem for p in notes} >= {"index", "npad", "differnet", "trustmae", "ndpnet"}
    for p in notes:
        text = p.read_text()
        assert "executed/benchmark/reproducibility>" in text, f"{p.name} does not link the reproducibility report"
        assert typed_numbers(text) == [], f"{p.name} types result-looking numbers"


def test_compared_method_and_mean_over_the_papers_categories():
    """NDP-Net's Table II: TrustMAE run beside NDP-Net (its record carries its own chapter) is found;
    the mean cell averages the paper's five textures only, so a sixth category does not spoil it."""
    S = spec.chapter("ndpnet", "paper")
    paper = paper_values.load("ndpnet_table2_image_auroc").set_index("method")
    recs = [_record(S.config("trustmae", "mvtec", c, seed=0), f"t{c}", image_auroc=float(paper.loc["TrustMAE", c]))
            for c in ("carpet", "grid", "leather", "tile", "wood")]
    recs.append(_record(S.config("trustmae", "mvtec", "bottle", seed=0), "tb", image_auroc=0.0))
    assert {r.config["spec"]["chapter"] for r in recs} == {"trustmae"}
    report, _ = R.judge("paper", records=recs, shown=_everywhere(recs),
                        tables=["ndpnet_table2_image_auroc"])
    got = report[report["row"] == "TrustMAE"].set_index("column")
    assert (got["verdict"] == "value matches").all(), got[["ours", "verdict", "why"]]
    assert got.loc["mean", "data"] == "mvtec (5 categories)"


def test_dry_run_records_are_found_and_not_comparable(monkeypatch):
    """In the paper dry run the configs are capped (test transforms, few-shot n): the report caps what it
    looks for the same way, finds the records and calls them not comparable."""
    monkeypatch.setenv("DEFECTBOOK_DRY_RUN", "1")
    S = spec.chapter("differnet", "paper")
    g = S.grids["ablation_test_transforms"][2]
    cfg = S.config("differnet", "mvtec", "wood", seed=0, train_transforms=True, test_transforms=g, snapshots=0)
    assert cfg["dry_run"] and cfg["params"]["test_transforms"] < g
    shots = S.config("differnet", "mvtec", "wood", seed=0, split={"kind": "few_shot", "n": S.grids["few_shot_n"]})
    recs = [_record(cfg, "g", image_auroc=0.9), _record(shots, "s", image_auroc=0.8)]
    report, _ = R.judge("paper", records=recs, shown=_everywhere(recs),
                        tables=["differnet_table3_ablation", "differnet_table1_mvtec"])
    g_row = report[(report["table"] == "differnet_table3_ablation") & (report["row"] == "G")].iloc[0]
    assert g_row["verdict"] == "not comparable" and "dry run" in g_row["why"]
    few = report[(report["row"] == "differnet_16shots") & (report["category"] == "wood")].iloc[0]
    assert few["verdict"] == "not comparable" and few["ours"] == pytest.approx(0.8)


def test_an_image_size_record_is_not_the_default_methods():
    """Table 4's records change only the transform: they answer Table 4's row, not Table 1's N-pad."""
    S = spec.chapter("npad", "cpu")
    t = S.grids["image_sizes"][1]
    rec = _record(S.config("npad", "synthetic", "wood", seed=0, transform=t), "t", pixel_auroc=0.9, image_auroc=0.9)
    report, _ = R.judge("cpu", records=[rec], shown=_everywhere([rec]),
                        tables=["npad_table1_auroc", "npad_table4_image_size"])
    computed = report[report["verdict"] != "not computed"]
    assert set(computed["table"]) == {"npad_table4_image_size"} and set(computed["row"]) == {"256 resize"}
