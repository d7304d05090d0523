"""report: the book's table style, verdicts and page summaries."""
import math

import numpy as np
import pandas as pd
import pytest

from defectbook import DefectbookError
from defectbook.book.report import page_summary, table
from defectbook.pipeline.store import Record


def test_table_prints_dash_for_missing_fixed_decimals_and_flat_labels():
    df = pd.DataFrame({("image", "ours"): [0.91234, np.nan], ("image", "paper"): [1, 0.5]},
                      index=pd.Index(["synthetic:wood", "mean"], name="data"))
    md = table(df)
    assert "nan" not in md and "| — |" in md and "0.912" in md and "image · ours" in md
    multi = pd.DataFrame({"x": [0.5]}, index=pd.MultiIndex.from_tuples([("d", 16)], names=["param", "value"]))
    md = table(multi)
    assert "('d', 16)" not in md and md.splitlines()[0] == "| param | value | x |"
    assert "50.0%" in table(pd.DataFrame({"x": [0.5]}), percent=True, digits=1)


def test_page_summary_summarises_the_records_it_is_given():
    def rec(method, seed, auroc):
        return Record(key=f"{method}{seed}", config={"method": method, "dataset": "synthetic", "category": "wood",
                                                     "seed": seed, "profile": "cpu"},
                      metrics={"image_auroc": auroc, "pixel_auroc": None}, timings={}, memory={}, scores=[], labels=[],
                      defects=[])
    padim = [rec("padim", 0, 0.8), rec("padim", 1, 0.6)]
    text = page_summary(padim + [rec("npad", 0, 0.7), padim[0]])
    assert text.startswith("3 runs of 2 methods on synthetic:wood") and "image AUROC: " in text
    assert "PaDiM 0.700" in text and "N-pad 0.700" in text
    assert "seeds 0, 1" in text
    one = page_summary([padim[0]])
    assert one.startswith("1 run of 1 method on ") and "seed 0)" in one, "one run and one seed in the singular"
    assert "pixel" not in text, "a metric no record has is not summarised"
    assert "no detector records" in page_summary([])
    with pytest.raises(DefectbookError, match="takes records"):
        page_summary([{"x": 1}])


def test_paired_effect_pairs_rows_on_data_and_seed():
    from defectbook.evaluation.stats import paired_effect

    df = pd.DataFrame({"data": ["a", "a", "b", "b", "c", "c"], "seed": [0] * 6, "w": ["x", "y"] * 3,
                       "auroc": [0.9, 0.8, 0.7, 0.65, 0.6, 0.5]})
    e = paired_effect(df, "w", "x", "y", "auroc")
    assert e["n"] == 3 and abs(e["difference"] - (0.1 + 0.05 + 0.1) / 3) < 1e-9 and e["low"] > 0
    assert math.isnan(paired_effect(df, "w", "x", "missing", "auroc")["difference"])


def test_claim_verdict_judges_a_ledger_claim_and_leaves_the_judgement(tmp_path, monkeypatch):
    from defectbook.book.report import claim_verdict, load_judgements

    monkeypatch.setenv("DEFECTBOOK_RESULTS", str(tmp_path / "results"))
    rows = [{"method": m, "data": f"d{i}", "seed": 0, "profile": "cpu", "image_auroc": v}
            for i in range(5) for m, v in (("padim", 0.8 + 0.02 * i),)]
    recs = [Record(key=f"k{i}", config={"method": "padim", "profile": "cpu"}, metrics={}, timings={}, memory={},
                   scores=[], labels=[], defects=[]) for i in range(2)]
    line = claim_verdict("padim.detects", pd.DataFrame(rows), recs, paper_effect=0.4)
    assert line.startswith("**Paper:** PaDiM detects") and "(paper: +0.400)" in line
    assert "**Verdict: ours agrees with the paper**" in line and "bootstrap over units, 5 units" in line
    saved = load_judgements("cpu")
    assert [j["id"] for j in saved] == ["padim.detects"] and saved[0]["records"] == ["k0", "k1"]
    assert load_judgements("cpu", dry_run=True) == []
    few = claim_verdict("padim.detects", pd.DataFrame(rows[:2]), recs)
    assert "undecided" in few and "no interval" in few


def test_every_paper_page_ends_its_summary_with_a_computed_verdict():
    """Each results page of the papers' chapters computes its verdict from its own records
    (report.claim_verdict or report.verdict inside its page summary; an "At larger scale" page, the
    reading of each claim by report.scale_page); none is typed."""
    from defectbook.book.execute import discover

    papers = {"padim", "npad", "differnet", "trustmae", "ndpnet"}
    pages = [nb for nb in discover() if nb.parent.name in papers]
    assert len(pages) >= 30
    missing = [f"{nb.parent.name}/{nb.stem}" for nb in pages
               if not ("claim_verdict(" in nb.read_text() or "verdict(" in nb.read_text()
                       or "scale_page(" in nb.read_text() and "extra=readings" in nb.read_text())
               or "{glue:md} summary" not in nb.read_text()]
    assert not missing, f"pages without a computed verdict: {missing}"


def test_method_differences_pair_records_on_the_same_test_images():
    """One row per (data, seed) and pair of methods; the value equals the two AUROCs' difference, the
    interval comes from the paired bootstrap, and records scored on different test sets are refused."""
    import numpy as np

    from defectbook import DefectbookError
    from defectbook.evaluation.metrics import image_auroc
    from defectbook.evaluation.stats import method_differences

    rng = np.random.default_rng(0)
    labels = [0] * 60 + [1] * 60
    y = np.array(labels)

    def rec(method, category, scores, labels=labels, pixel=None):
        return Record(key=f"{method}{category}", config={"method": method, "dataset": "mtd", "category": category,
                                                          "seed": 0, "profile": "cpu"},
                      metrics={"image_auroc": image_auroc(labels, scores), "pixel_auroc": pixel}, timings={},
                      memory={}, scores=list(scores), labels=list(labels), defects=["good"] * len(labels))

    strong, weak = 2.0 * y + rng.normal(size=120), 0.1 * y + rng.normal(size=120)
    recs = [rec("npad", "a", strong, pixel=0.9), rec("padim", "a", weak, pixel=0.8), rec("padim", "b", weak)]
    df = method_differences(recs, [("npad", "padim"), ("npad", "patchcore")], n_boot=300)
    assert len(df) == 1, "only pairs present on one data set and seed"
    row = df.iloc[0]
    assert row["difference"] == image_auroc(y, strong) - image_auroc(y, weak)
    assert 0 < row["low"] <= row["difference"] <= row["high"] and row["word"] == "agrees"
    assert abs(row["pixel difference"] - 0.1) < 1e-12 and row["n_test"] == 120
    reversed_ = method_differences(recs, [("padim", "npad")], n_boot=300).iloc[0]
    assert reversed_["word"] == "disagrees" and reversed_["high"] < 0
    other = rec("padim", "a", weak[:100], labels=labels[:100])
    with pytest.raises(DefectbookError, match="different test sets"):
        method_differences([recs[0], other], [("npad", "padim")], n_boot=50)


def test_differences_view():
    """The page view names the comparison and renames the columns."""
    import pandas as pd

    from defectbook.book.report import differences_view

    diffs = pd.DataFrame({"data": ["mtd", "mtd"], "seed": [0, 0], "a": ["npad", "npad"], "b": ["padim", "patchcore"],
                          "difference": [0.03, -0.02], "low": [0.01, -0.04], "high": [0.05, -0.01],
                          "word": ["agrees", "disagrees"]})
    view = differences_view(diffs, {"npad": "N-pad", "padim": "PaDiM", "patchcore": "PatchCore"},
                            columns=("seed", "difference", "word", "paper"), paper=[0.1, 0.0])
    assert list(view.columns) == ["comparison", "seed", "image AUROC difference", "verdict", "paper"]
    assert list(view.comparison) == ["N-pad − PaDiM", "N-pad − PatchCore"] and list(view.paper) == [0.1, 0.0]
def test_a_scale_section_shows_the_curve_reading_and_stale_rungs_from_the_bundle(isolated, tmp_path, monkeypatch):
    import json

    import matplotlib
    from helpers.bundles import tiny_bundle

    from defectbook.analysis import scale
    from defectbook.book import report
    from defectbook.pipeline import bundle
    from defectbook.pipeline.store import Store, record_checksum

    matplotlib.use("Agg")
    shown = []
    monkeypatch.setattr(report, "show", lambda md, **kw: shown.append(md if isinstance(md, str) else md.to_string()))
    c = scale.CLAIMS["npad.vs_padim_patchcore_real"]
    assert "no rung has been run yet" in report.scale_section(c, [], None)
    assert any("Provenance:" in s for s in shown) and any("would take about" in s for s in shown)
    root = tmp_path / "b"
    tiny_bundle(root, Store(isolated / "results"), c.id, [("r0", 0.0), ("r1", 0.05), ("r2", 0.1)],
                [("npad − padim", "mtd:")])
    shown.clear()
    assert "**moves toward the paper** over 3 rungs" in report.scale_section(c, bundle.read(root).rungs, None)
    assert any("not in this build" in s and "computed by `scale ladder" in s for s in shown)
    p = root / "records" / f"{bundle.read(root).rungs[2].manifest['keys'][0]}.json"
    data = json.loads(p.read_text())
    data["config"]["seed"] = 9
    data["checksum"] = record_checksum(data)
    p.write_text(json.dumps(data))
    shown.clear()
    assert "**undecided** over 2 rungs" in report.scale_section(c, bundle.read(root).rungs, None)
    assert any("**Stale rungs**" in s and "r2" in s for s in shown)
