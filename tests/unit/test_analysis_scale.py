import math

import pandas as pd
import pytest
from helpers.bundles import tiny_bundle

from defectbook import DefectbookError
from defectbook.analysis import scale
from defectbook.book import paper_values
from defectbook.pipeline import bundle
from defectbook.pipeline.store import Store


def curve(*points, half=0.02):
    return [{"difference": d, "low": d - half, "high": d + half} for d in points]


@pytest.mark.parametrize("points, sign, half, word", [
    ((0.00, 0.05, 0.10), 1, 0.02, "moves toward the paper"),
    ((0.10, 0.05, 0.00), 1, 0.02, "moves away"),
    ((0.10, 0.05, 0.00), -1, 0.02, "moves toward the paper"),    # the paper's effect is negative (a smaller drop)
    ((0.00, 0.01, 0.00), 1, 0.01, "flat"),
    ((0.00, 0.01, 0.00), 1, 0.06, "undecided"),                   # inside the noise, but the intervals are too wide
    ((0.00, 0.08, 0.04), 1, 0.04, "undecided"),                   # a change inside its interval, not flat
    ((0.00, 0.10), 1, 0.01, "undecided"),                         # two rungs
])
def test_the_reading_rule_on_hand_made_curves(points, sign, half, word):
    assert scale.reading(curve(*points, half=half), sign)["reading"] == word


def test_the_reading_reports_its_change_and_slope_and_skips_missing_rungs():
    r = scale.reading(curve(0.0, float("nan"), 0.05, 0.1), 1)
    assert r["rungs"] == 3 and math.isclose(r["change"], 0.1)
    assert math.isclose(r["change_high"] - r["change"], math.hypot(0.02, 0.02)) and r["slope"] > 0
    assert scale.reading([], 1)["reading"] == "undecided"


def test_a_claim_reads_as_its_curves_when_they_agree():
    same = pd.DataFrame({"reading": ["flat", "flat"]})
    mixed = pd.DataFrame({"reading": ["flat", "moves away"]})
    assert scale.claim_reading(same) == "flat" and scale.claim_reading(mixed) == "undecided"
    assert scale.claim_reading(pd.DataFrame({"reading": []})) == "undecided"


def test_every_claim_declares_three_rungs_from_the_cpu_setting_sized_for_two_cores():
    assert set(scale.CLAIMS) == {"trustmae.noise_robustness", "trustmae.clean_auroc_vs_memae",
                                 "ndpnet.pixel_auroc_vs_reconstruction", "ndpnet.table6_switches",
                                 "differnet.flow_vs_knn_ocsvm_mtd", "differnet.table3_ablation",
                                 "npad.vs_padim_patchcore_real"}
    for c in scale.CLAIMS.values():
        assert len(c.rungs) >= 3 and c.next_rung.id not in [r.id for r in c.rungs]
        assert all(r.est_min > 0 and r.basis for r in c.rungs + (c.next_rung,))
        assert max(r.est_min for r in c.rungs) <= 36 and c.next_rung.est_min > max(r.est_min for r in c.rungs)
        assert any(d in ("mtd", "elpv") for d, _ in c.data)     # real data first
        r0 = c.rungs[0]
        assert (r0.changes, r0.transform) == ({}, None)           # rung 0: the cpu profile's settings
        assert r0.split is None or "capped" in c.note             # ... on its splits, unless declared capped
    with pytest.raises(DefectbookError, match="no rung"):
        scale.CLAIMS["npad.vs_padim_patchcore_real"].rung("r9")
    with pytest.raises(DefectbookError, match="unknown claim"):
        scale.claim("npad.nothing")


def test_a_rung_lays_its_changes_transform_and_caps_over_the_cpu_profile():
    c = scale.CLAIMS["npad.vs_padim_patchcore_real"]
    r0 = scale.rung_configs(c, scale.rung_chapter(c, c.rung("r0")))
    r2 = scale.rung_configs(c, scale.rung_chapter(c, c.rung("r2")))
    nxt = scale.rung_configs(c, scale.rung_chapter(c, c.next_rung))
    assert [x["method"] for x in r2] == ["npad", "padim", "patchcore"] * 2
    assert r0[0]["transform"] == {"resize": 128, "crop": 112} and r2[0]["transform"] == {"resize": 256, "crop": 224}
    assert r2[0]["params"] == r0[0]["params"] and r2[1]["params"] == r0[1]["params"]   # the image size only
    assert nxt[0]["params"]["shift"] == 4 and nxt[0]["params"]["backbone"] == "wide_resnet50_2"
    assert r2[0]["split"]["max_train"] == 120 and "max_train" not in r0[0]["split"]
    t = scale.CLAIMS["trustmae.noise_robustness"]
    cfgs = scale.rung_configs(t, scale.rung_chapter(t, t.rung("r2")))
    tm = [x for x in cfgs if x["method"] == "trustmae"]
    assert {x["split"]["ratio"] for x in tm} == {0.0, 0.4} and all(x["params"]["width"] == 32 for x in tm)
    assert all(x["params"]["width"] == 0.25 for x in cfgs if x["method"] == "memae")
    tiny = scale.rung_configs(t, scale.rung_chapter(t, t.rung("r2"), "smoke", tiny=True))
    assert {x["params"]["epochs"] for x in tiny} == {3} and {x["profile"] for x in tiny} == {"smoke"}


def test_weights_allow_leaves_out_what_has_no_weights_here(monkeypatch):
    monkeypatch.setattr(scale, "_weights_present", lambda name: False)
    r = scale.weights_allow(scale.CLAIMS["npad.vs_padim_patchcore_real"].next_rung)
    assert "backbone" not in r.changes["npad"] and "d" not in r.changes["padim"] and "no weights" in r.label
    t = scale.weights_allow(scale.CLAIMS["trustmae.noise_robustness"].next_rung)
    assert t.changes["trustmae"]["feature_net"] is None and t.changes["trustmae"]["width"] == 32
    monkeypatch.setattr(scale, "_weights_present", lambda name: True)
    r = scale.CLAIMS["npad.vs_padim_patchcore_real"].next_rung
    assert scale.weights_allow(r) is r


def test_curves_and_readings_come_from_the_bundle_and_stale_rungs_are_left_out(isolated, tmp_path):
    store, root = Store(isolated / "results"), tmp_path / "b"
    cid = "npad.vs_padim_patchcore_real"
    tiny_bundle(root, store, cid, [("r0", 0.00), ("r1", 0.05), ("r2", 0.10)],
                [("npad − padim", "mtd:"), ("npad − patchcore", "mtd:")])
    c = scale.CLAIMS[cid]
    curves = scale.curve_frame(c, bundle.read(root).rungs)
    assert len(curves) == 6 and list(curves["index"][:3]) == [0, 1, 2] and not curves["stale"].any()
    assert curves["commit"].notna().all() and (curves["wall_s"] > 0).all()
    table = scale.readings(c, curves)
    assert list(table["reading"]) == ["moves toward the paper"] * 2
    assert scale.claim_reading(table) == "moves toward the paper"
    ladder = scale.ladder_table(c, curves)
    assert list(ladder["status"]) == ["ran", "ran", "ran", "next (not run on 2 cores)"]
    first = bundle.read(root).rungs[0]
    own = sum(sum(float(b.record.timings.get(k) or 0) for k in ("data_s", "fit_s", "predict_s")) for b in first.records)
    assert curves.drop_duplicates("rung")["compute_s"].iloc[0] == round(own, 1) and own > 0
    assert ladder["records' compute min"].iloc[0] == round(own / 60, 1) and ladder["wall min"].notna().sum() == 3
    stale = curves.assign(stale=curves["rung"] == "r2")
    assert list(scale.readings(c, stale)["reading"]) == ["undecided"] * 2     # two live rungs left
    empty = scale.curve_frame(c, [])
    assert empty.empty and scale.readings(c, empty).empty
    trends = scale.trends(bundle.read(root).rungs)           # the claims ledger's "trend over scale"
    assert trends[cid] == "moves toward the paper (3 of 3 rungs run)"
    assert trends["trustmae.noise_robustness"] == "undecided (0 of 3 rungs run)" and set(trends) == set(scale.CLAIMS)


def test_the_papers_values_of_each_claim():
    got = {cid: scale.paper_effects(c, paper_values.load(c.paper_table)) for cid, c in scale.CLAIMS.items()}
    assert got["differnet.flow_vs_knn_ocsvm_mtd"] == pytest.approx({"differnet − knn": 0.177,
                                                                   "differnet − ocsvm": 0.39})
    assert got["npad.vs_padim_patchcore_real"]["npad − patchcore"] == pytest.approx(0.0032)
    assert got["ndpnet.table6_switches"]["A: NDP-Net − B: w/o RBAM"] == pytest.approx(0.0091)
    assert got["differnet.table3_ablation"] == pytest.approx({"G − A": 0.105})
    assert got["trustmae.noise_robustness"]["trustmae − memae"] < 0      # TrustMAE loses less
    assert got["trustmae.clean_auroc_vs_memae"]["trustmae − memae"] > 0
    assert set(got["ndpnet.pixel_auroc_vs_reconstruction"]) == {"ndpnet − trustmae", "ndpnet − ae_ssim"}
    assert scale.paper_effects(scale.CLAIMS["npad.vs_padim_patchcore_real"], None) == {}


def test_the_ladder_writes_each_rung_as_it_finishes_skips_finished_ones_and_keeps_its_budget(isolated, tmp_path,
                                                                                             monkeypatch):
    from helpers.bundles import effect, fake_record

    store, root = Store(isolated / "results"), tmp_path / "b"
    calls = []

    def fake_run(c, S, n_boot, store_):
        calls.append(S.section["methods"]["npad"].get("shift"))
        if len(calls) == 3:
            raise RuntimeError("machine lost")
        return [fake_record(store, seed=len(calls))], [effect("npad − padim", "mtd:", 0.01 * len(calls))]

    monkeypatch.setattr(scale, "run_rung", fake_run)
    cid, said = "npad.vs_padim_patchcore_real", []
    with pytest.raises(RuntimeError):
        scale.run_ladder([cid], root=root, say=said.append)
    b = bundle.read(root)
    assert [r.rung for r in b.rungs] == ["r0", "r1"] and b.problems() == []   # the lost rung left nothing behind
    assert b.rungs[1].manifest["label"] == scale.CLAIMS[cid].rung("r1").label and b.rungs[1].manifest["wall_s"] >= 0
    done = scale.run_ladder([cid], root=root, say=said.append)
    assert [d["status"] for d in done] == ["skipped", "skipped", "ran"] and len(calls) == 4
    assert scale.run_ladder([cid], ["r3"], root=root, budget_s=-1, say=said.append)[0]["status"] == "not started"
    # on a GPU, a rung whose estimated GPU minutes would overrun the window does not start
    gpu = scale.run_ladder([cid], ["r3"], root=root, budget_s=60, device="cuda", say=said.append)
    assert gpu[0]["status"] == "not started" and len(calls) == 4
    assert scale.run_ladder(["differnet.table3_ablation"], ["r7"], root=root) == []     # a rung it does not declare
    assert any("done in" in s for s in said) and any("skipped" in s for s in said)
