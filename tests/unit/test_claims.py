import json
import math

import numpy as np
import pandas as pd
import pytest
from helpers.claims import record, records_frame, separated

from defectbook import DefectbookError
from defectbook.analysis import claims
from defectbook.evaluation import stats


def test_ledger_loads_and_declares_the_central_claims():
    led = claims.ledger()
    for cid in ("trustmae.noise_robustness", "trustmae.clean_auroc_vs_memae", "ndpnet.pixel_auroc_vs_reconstruction",
                "ndpnet.table6_switches", "differnet.flow_vs_knn_ocsvm_mtd", "differnet.table3_ablation",
                "npad.vs_padim_patchcore_real"):
        assert led[cid].central, cid
    assert all(c.paper in claims.PAPERS for c in led.values())
    table = claims.ledger_frame()
    assert len(table) == len(led) and table["id"].is_unique


def test_bad_ledger_entries_are_refused(tmp_path):
    p = tmp_path / "l.yaml"
    p.write_text("- {id: npad.x, paper: npad, page: npad/x, claim: c, metric: m, by: b, subject: s, competitors: []}\n")
    with pytest.raises(DefectbookError, match="competitors"):
        claims.ledger(str(p))
    p.write_text("- {id: npad.x, paper: npad, page: npad/x, claim: c, metric: m, by: b, subject: s, competitors: [a],"
                 " direction: up}\n")
    with pytest.raises(DefectbookError, match="direction"):
        claims.ledger(str(p))
    with pytest.raises(DefectbookError, match="no claim"):
        claims.claim("npad.nothing")


def test_image_bootstrap_pairs_the_test_images_and_combines_units():
    labels, strong = separated(2.0)
    _, weak = separated(0.2, seed=1)
    units = [{"data": d, "labels": labels, "defects": None, "terms": [(1, strong), (-1, weak)]} for d in "ab"]
    e = stats.image_bootstrap(units, n_boot=300)
    assert e["method"] == "images" and e["n"] == 2
    assert 0 < e["low"] <= e["difference"] <= e["high"] <= 1
    assert stats.direction_word(e) == "agrees" and stats.direction_word(e, -1) == "disagrees"
    same = stats.image_bootstrap([{"data": "a", "labels": labels, "terms": [(1, strong), (-1, strong)]}], n_boot=50)
    assert same["difference"] == 0 and same["low"] == 0 == same["high"]


def test_unit_bootstrap_needs_enough_units_and_bands_are_declared():
    assert math.isnan(stats.unit_bootstrap([0.1, 0.2, 0.1])["low"])
    e = stats.unit_bootstrap([0.1, 0.2, 0.1, 0.15, 0.05])
    assert stats.direction_word(e) == "agrees" and e["n"] == stats.MIN_UNITS
    assert stats.in_band([0.99, 1.0, 0.985]) == "ceiling" and stats.in_band([0.5, 0.52, 0.47]) == "floor"
    assert stats.in_band([0.99, 0.9]) is None
    assert stats.combine_words(["agrees", "not testable"]) == "agrees"
    assert stats.combine_words(["agrees", "disagrees"]) == "disagrees"
    assert stats.combine_words(["agrees", "undecided"]) == "undecided"
    assert stats.combine_words(["not testable"]) == "not testable"


def test_judge_uses_per_image_scores_against_every_competitor():
    labels, strong = separated(2.0)
    recs = []
    for d in ("c1", "c2"):
        recs += [record("npad", d, strong, labels), record("padim", d, separated(0.3, seed=2)[1], labels),
                 record("patchcore", d, separated(3.0, seed=3)[1], labels)]
    j = claims.judge("npad.vs_padim_patchcore_real", records_frame(recs), recs, n_boot=200)
    rows = j["rows"].set_index("competitor")
    assert rows.loc["padim", "word"] == "agrees" and rows.loc["patchcore", "word"] == "disagrees"
    assert rows.loc["padim", "method"] == "paired bootstrap over test images" and rows.loc["padim", "units"] == 2
    assert j["word"] == "disagrees", "a claim against every competitor fails when one comparison disagrees"
    # without records only the per-unit values are left: two units give no interval
    assert claims.judge("npad.vs_padim_patchcore_real", records_frame(recs), n_boot=50)["word"] == "undecided"


def test_a_ceiling_is_not_testable_and_a_drop_is_judged():
    labels = [0] * 30 + [1] * 30
    perfect = np.array(labels) * 10.0 + np.linspace(0, 1, 60)
    recs = [record(m, "wood", perfect, labels, noise=n) for m in ("trustmae", "memae", "ae_l2") for n in (0.0, 0.2)]
    j = claims.judge("trustmae.noise_robustness", records_frame(recs), recs, n_boot=50)
    assert j["word"] == "not testable" and "ceiling" in j["rows"]["method"].iloc[0]
    _, good = separated(2.0, n=30)
    _, worse = separated(0.5, n=30, seed=4)
    recs = [record("trustmae", "carpet", good, labels, noise=n) for n in (0.0, 0.2)]
    recs += [record(m, "carpet", s, labels, noise=n) for m in ("memae", "ae_l2")
             for n, s in ((0.0, good), (0.2, worse))]
    j = claims.judge("trustmae.noise_robustness", records_frame(recs), recs, n_boot=300)
    assert j["word"] == "agrees", j["rows"]
    assert j["rows"]["difference"].iloc[0] < 0


def test_tokens_reference_and_judgement_record():
    df = pd.DataFrame({"shots": [5, 50, 5, 50], "data": ["a", "a", "b", "b"], "seed": 0,
                       "image_auroc": [0.7, 0.8, 0.6, 0.9]})
    c = claims.claim("differnet.fig7_fewshot")
    assert claims.resolve(c, df) == (50, [5])
    assert claims.resolve(claims.claim("npad.fig2_radius"), pd.DataFrame({"radius": ["radius 10", "radius 2"]})) \
        == ("radius 10", ["radius 2"])
    j = claims.judge("padim.detects", pd.DataFrame({"method": "padim", "data": list("abcde"), "seed": 0,
                                                    "image_auroc": [0.8, 0.9, 0.7, 0.85, 0.75]}))
    assert j["word"] == "agrees" and j["rows"]["method"].iloc[0] == "bootstrap over units"
    rec = claims.judgement_record(j, "cpu", False, paper_effect=0.1)
    assert json.loads(json.dumps(rec))["word"] == "agrees"
    card = claims.scorecard([rec])
    assert card.set_index("id").loc["padim.detects", "verdict"] == "agrees"
    assert card["trend over scale"].isna().all()
    assert claims.counts(card).loc["PaDiM", "agrees"] == 1
    # the row shown for a claim is one with an interval, not a competitor that has no record
    two = rec | {"id": "trustmae.noise_robustness", "rows": [
        {"competitor": "memae", "difference": 0.05, "low": 0.03, "high": 0.08, "units": 1, "data": "wood"},
        {"competitor": "ae_l2", "difference": None, "low": None, "high": None, "units": 1, "data": ""}]}
    row = claims.scorecard([two]).set_index("id").loc["trustmae.noise_robustness"]
    assert row["against"] == "memae" and row["effect"] == pytest.approx(0.05)
    with pytest.raises(DefectbookError, match="reference"):
        claims.judge("ndpnet.table5_dagm", pd.DataFrame({"method": ["ndpnet"], "pixel_auroc": [0.9]}))


def test_a_unit_is_named_for_a_reader():
    from defectbook.analysis.claims import _unit_label

    assert _unit_label(["category", "seed"], ("synthetic:washer", 0)) == "synthetic:washer, seed 0"
    assert _unit_label(["seed"], 2) == "seed 2" and _unit_label(["_all"], 0) == "0"
    assert _unit_label(["layer"], "layer 1") == "layer 1"    # a value that names its quantity already


def test_a_frame_of_one_runs_quantities_is_named_by_its_records_data():
    """Fig. 8's frame has one row per addressing and no data column: the judgement names the data of the page's
    records (not the bare unit label ``0``), and the scorecard shows the claim's metric beside the effect."""
    from defectbook.book.report import scorecard_table

    recs = [record("trustmae", "wood", [0.1, 0.9], [0, 1]), record("trustmae", "wood", [0.2, 0.8], [0, 1], seed=1)]
    df = pd.DataFrame({"addressing": ["sparse (top-k)", "dense (w/o SP)"],
                       "non-zero weights per latent vector": [3.0, 64.0]})
    j = claims.judge("trustmae.fig8_sparse_addressing", df, recs)
    assert j["rows"]["data"].iloc[0] == "mtd:wood"
    card = claims.scorecard([claims.judgement_record(j, "cpu", False)])
    shown = scorecard_table(card).set_index("claim").iloc[
        list(card["id"]).index("trustmae.fig8_sparse_addressing")]
    assert shown["metric"] == "non-zero weights per latent vector" and shown["data"] == "mtd:wood"
    assert shown["effect [95 % interval]"] == "-61.000 (no interval)"
    from defectbook.book.report import _against

    assert _against(0.0, "delta2") == "delta2 = 0" and _against("memae", "method") == "MemAE"
    from defectbook.book.report import declared_table

    declared = declared_table(claims.ledger_frame()).set_index("name")
    assert declared.loc["noise robustness", "metric"] == "image AUROC" and "page" not in declared
