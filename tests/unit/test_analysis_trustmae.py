"""defectbook.analysis.trustmae on small hand-built records: every number here can be checked by hand."""
import math
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from defectbook.analysis import trustmae
from defectbook.evaluation.stats import interval
from defectbook.pipeline import spec
from defectbook.pipeline.store import Record

LABELS4 = [0, 0, 1, 1]
#: Scores of four test images (two defect-free, then two defective) and their image AUROC.
AUROC_1 = [0.0, 1.0, 2.0, 3.0]       # both defective above both defect-free: 1.0
AUROC_075 = [0.0, 2.0, 1.0, 3.0]     # 3 of the 4 (defective, defect-free) pairs in order: 0.75
AUROC_05 = [0.0, 3.0, 1.0, 2.0]      # 2 of 4: 0.5


def noisy(method, ratio, seed, scores, category="wood", **extras):
    split = {"kind": "noisy", "ratio": ratio, "fixed_test": True}
    return Record(key=f"{method}-{ratio}-{seed}-{category}", metrics={"image_auroc": None}, timings={}, memory={},
                  scores=list(scores), labels=list(LABELS4), defects=["good", "good", "crack", "crack"],
                  config={"method": method, "dataset": "synthetic", "category": category, "seed": seed, "split": split,
                          "params": {}},
                  extras=extras)


def two_seeds():
    """Seed 0: TrustMAE 1.0 -> 0.75 (drop 0.25), MemAE 1.0 -> 0.5 (0.5), AE-MSE 1.0 -> 0.75 (0.25).
    Seed 1: TrustMAE 0.75 -> 0.75 (0), MemAE 1.0 -> 0.5 (0.5), AE-MSE 0.75 -> 0.5 (0.25)."""
    runs = {0: {"trustmae": (AUROC_1, AUROC_075), "memae": (AUROC_1, AUROC_05), "ae_l2": (AUROC_1, AUROC_075)},
            1: {"trustmae": (AUROC_075, AUROC_075), "memae": (AUROC_1, AUROC_05), "ae_l2": (AUROC_075, AUROC_05)}}
    return [noisy(m, x, s, v) for s, by in runs.items() for m, pair in by.items() for x, v in zip((0.0, 0.4), pair)]


def test_the_difference_of_drops_of_two_seeds_by_hand():
    records = two_seeds()
    effects = trustmae.drop_effects(records, ["trustmae", "memae", "ae_l2"], [0.0, 0.2, 0.4], n_boot=50, image_ids=None)
    assert list(effects) == ["memae", "ae_l2"]
    # D = TrustMAE's drop minus the baseline's: seed 0 0.25 - 0.5, seed 1 0 - 0.5 against MemAE
    assert effects["memae"]["difference"] == pytest.approx((-0.25 - 0.5) / 2)
    assert effects["ae_l2"]["difference"] == pytest.approx((0.0 - 0.25) / 2)
    assert effects["memae"]["n"] == 2
    table = trustmae.effects_table(effects)
    assert list(table["baseline"]) == ["MemAE", "AE-MSE"]
    assert table["D (mean over units)"].iloc[0] == pytest.approx(-0.375)
    assert table["test images per unit"].iloc[0] == "4–4" and table["units"].iloc[0] == 2
    t = interval([-0.25, -0.5])
    assert table["t-interval over units"].iloc[0] == f"{t['low']:+.3f} to {t['high']:+.3f}"
    glued = trustmae.drop_glue(effects)
    assert glued["D_memae"] == pytest.approx(-0.375) and glued["D_ae_l2_word"] == effects["ae_l2"]["word"]
    assert set(glued) == {f"D_{b}{s}" for b in ("memae", "ae_l2") for s in ("", "_low", "_high", "_word")}


def test_without_trustmae_or_a_baseline_no_difference_is_taken():
    assert trustmae.drop_effects(two_seeds(), ["trustmae"], [0.0, 0.4], n_boot=10, image_ids=None) == {}


def test_units_side_by_side_with_page_or_method_names():
    effects = trustmae.drop_effects(two_seeds(), trustmae.DROP_MODELS, [0.0, 0.4], n_boot=20, image_ids=None)
    page = trustmae.units_table(effects)
    assert list(page["seed"]) == [0, 1]
    assert list(page["drop TrustMAE"]) == pytest.approx([0.25, 0.0])
    assert list(page["drop MemAE"]) == pytest.approx([0.5, 0.5]) and list(page["drop AE-MSE"]) == pytest.approx(
        [0.25, 0.25]
    )
    assert list(page["D vs MemAE"]) == pytest.approx([-0.25, -0.5]) and list(page["D vs AE-MSE"]) == pytest.approx(
        [0.0, -0.25]
    )
    script = trustmae.units_table(effects, label_drops=False)
    assert {"drop trustmae", "drop memae", "drop ae_l2", "D vs MemAE"} <= set(script.columns)
    assert trustmae.units_table({}).empty


def test_per_data_set_difference_has_one_row_per_baseline_and_data():
    records = two_seeds() + [noisy(r.config["method"], r.config["split"]["ratio"], 0, r.scores, category="carpet")
                             for r in two_seeds() if r.config["seed"] == 1]
    effects = trustmae.drop_effects(records, trustmae.DROP_MODELS, [0.0, 0.4], n_boot=20, image_ids=None)
    per_data = trustmae.per_data_table(effects, records, [0.0, 0.4], n_boot=20, image_ids=None)
    row = per_data[(per_data["baseline"] == "MemAE")].set_index("data")
    assert row.loc["synthetic:wood", "D"] == pytest.approx(-0.375) and row.loc["synthetic:wood", "seeds"] == 2
    assert row.loc["synthetic:carpet", "D"] == pytest.approx(-0.5) and row.loc["synthetic:carpet", "seeds"] == 1
    assert set(per_data["test images"]) == {4}


def test_drop_table_and_its_sign_sentence():
    curves = pd.DataFrame({"TrustMAE": [0.9, 0.85], "MemAE": [0.9, 0.6], "AE-MSE": [0.8, 0.6]},
                          index=pd.Index([0.0, 0.4], name="noise"))
    records = [noisy("trustmae", 0.0, 0, AUROC_1), noisy("trustmae", 0.0, 1, AUROC_05),
               noisy("memae", 0.4, 0, AUROC_075)]
    table = trustmae.drop_table(curves, records, [0.0, 0.4], n_boot=50)
    assert list(table["drop"]) == pytest.approx([0.05, 0.3, 0.2])
    assert table.loc["TrustMAE", "95 % interval at 0%"] == "[1.000, 1.000]", "the first record of a model and level"
    assert table.loc["TrustMAE", "95 % interval at 40%"] == "" and table.loc[
        "MemAE", "95 % interval at 40%"
    ].startswith("[")
    text = trustmae.drop_sign_text(table["drop"], [0.0, 0.4], "cpu")
    assert "TrustMAE's image AUROC changes by -0.050" in text and "**appears**" in text and "margin of 0.150" in text
    assert "**does not appear**" in trustmae.drop_sign_text(pd.Series({"TrustMAE": 0.3, "MemAE": 0.2, "AE-MSE": 0.4}),
                                                            [0.0, 0.4], "smoke")
    assert trustmae.drop_sign_text(pd.Series({"TrustMAE": 0.1}), [0.0, 0.4], "cpu") is None


def test_the_papers_difference_of_drops():
    paper = trustmae.paper_noise_curves(pd.DataFrame({"method": ["Ours", "Ours", "MemAE", "MemAE", "AE-MSE", "AE-MSE"],
                                                      "noise": [0.0, 0.4] * 3,
                                                      "mean": [0.9, 0.85, 0.9, 0.7, 0.8, 0.7]}))
    assert list(paper.columns) == ["AE-MSE", "MemAE", "TrustMAE"]
    assert trustmae.paper_drop_difference(paper) == pytest.approx(-0.15)      # (0.9 - 0.85) - (0.9 - 0.7)
    assert math.isnan(trustmae.paper_drop_difference(paper.iloc[:1]))


def test_noise_frame_and_the_training_sets_line():
    records = [noisy("trustmae", 0.0, 0, AUROC_1, split={"n_train": 10}),
               noisy("memae", 0.4, 0, AUROC_1, split={"n_train": 8, "noise_ratio": 0.3})]
    records[0].config["split"] = {"kind": "clean"}
    df = trustmae.noise_frame(records)
    assert list(df["noise"]) == [0.0, 0.4] and list(df["model"]) == ["TrustMAE", "MemAE"]
    assert list(df["achieved_noise"]) == [0.0, 0.3] and list(df["n_train"]) == [10, 8]
    assert trustmae.training_sets_text(df).endswith("0.00→0.00 (10.0), 0.40→0.30 (8.0)")


def test_trust_region_table_averages_the_last_epoch_per_noise_level():
    def run(ratio, seed, pull, slots):
        history = {k: [0.0, v] for k, v in (("tr_pull", pull), ("tr_push", 0.1), ("tr_ignore", 0.0),
                                             ("delta1_mean", 1.0), ("dist_nearest_mean", 2.0))}
        r = noisy("trustmae", ratio, seed, AUROC_1, history=history, memory={"slots_used": slots},
                  mse_scores_by_pooling={"max": AUROC_05})
        r.metrics["image_auroc"] = 1.0
        return r

    table = trustmae.trust_region_table([run(0.0, 0, 0.6, 10), run(0.0, 1, 0.8, 20), run(0.4, 0, 0.5, 30),
                                         noisy("memae", 0.0, 0, AUROC_1)])
    assert list(table.index) == [0.0, 0.4]
    assert table.loc[0.0, "tr_pull"] == pytest.approx(0.7) and table.loc[0.0, "slots used"] == 15
    assert table.loc[0.4, "image AUROC (MSE only)"] == pytest.approx(0.5)
    assert trustmae.trust_region_table([noisy("memae", 0.0, 0, AUROC_1)]).empty


def test_the_ablation_reads_without_pd_from_the_same_models():
    runs = [("full", {"split": {"ratio": 0.1}, "category": "wood"}), ("w/o TR", {"split": {}, "category": "wood"}),
            ("w/o SP", {"split": {"ratio": 0.1}, "category": "wood"})]
    records = [
        noisy("trustmae", 0.1, 0, AUROC_1, mse_scores_by_pooling={"max": s}) for s in (AUROC_075, AUROC_05, AUROC_1)
    ]
    for r, auc in zip(records, (0.9, 0.8, 0.7)):
        r.metrics["image_auroc"] = auc
    df = trustmae.ablation_frame(runs, records)
    assert list(df["variant"]) == ["ours", "ours w/o PD", "ours w/o TR", "ours w/o PD w/o TR", "ours w/o SP"]
    assert list(df["image_auroc"]) == pytest.approx([0.9, 0.75, 0.8, 0.5, 0.7])
    assert list(df["noise"]) == [0.1, 0.1, 0.0, 0.0, 0.1]
    table = trustmae.ablation_table(df)
    assert list(table.index) == trustmae.ABLATION_ORDER and table.loc["ours w/o PD", 0.1] == pytest.approx(0.75)


def test_delta2_runs_and_their_mean_over_seeds():
    def run(delta2, seed, auc):
        history = {"tr_pull": [0.5], "tr_push": [0.2], "tr_ignore": [0.3], "delta1_mean": [1.0],
                   "dist_nearest_mean": [2.0]}
        r = noisy("trustmae", 0.3, seed, AUROC_1, history=history)
        r.config["params"] = {"delta2": delta2}
        r.metrics.update(image_auroc=auc, pixel_auroc=0.5)
        return r

    runs = trustmae.threshold_runs([run(0.0, 0, 0.6), run(0.0, 1, 0.8), run(20.0, 0, 0.9)])
    assert list(runs["delta2"]) == [0.0, 0.0, 20.0] and list(runs["pulled"]) == [0.5] * 3
    table = trustmae.threshold_table(runs)
    assert "seed" not in table and table.loc[0.0, "image_auroc"] == pytest.approx(0.7)


def test_pooled_scores_of_table1():
    r = noisy("trustmae", 0.0, 0, AUROC_1, scores_by_pooling={"max": AUROC_1, "mean": AUROC_05})
    m = noisy("memae", 0.0, 0, AUROC_1, scores_by_pooling={"max": AUROC_075, "mean": AUROC_1})
    df = trustmae.pooled_frame([r, m])
    assert list(df["method"]) == ["TrustMAE (max)", "TrustMAE (mean)", "MemAE"]
    assert list(df["image_auroc"]) == pytest.approx([1.0, 0.5, 0.75]) and set(df["category"]) == {"synthetic:wood"}
    table = trustmae.category_table(df, "method", "category", "image_auroc")
    assert list(table.columns) == ["mean", "synthetic:wood"] and table.loc["MemAE", "mean"] == pytest.approx(0.75)
    text = trustmae.clean_training_text(df.category, df.seed, "image AUROC", df.groupby("method").image_auroc.mean())
    assert text == ("Noise-free training on synthetic:wood (seeds 0). Mean image AUROC: MemAE 0.750, "
                    "TrustMAE (max) 1.000, TrustMAE (mean) 0.500.")


def test_mvtec_comparison_only_on_real_categories():
    ours = pd.Series({"mvtec:wood": 0.9, "synthetic:carpet": 0.7, "mean": 0.8}, name="TrustMAE (max)")
    paper = pd.Series({"wood": 0.95, "carpet": 0.97, "mean": 0.9})
    cmp = trustmae.mvtec_comparison(ours, paper)
    assert list(cmp.index) == ["wood"] and cmp.loc["wood", "Δ"] == pytest.approx(-0.05)
    assert list(cmp.columns) == ["ours TrustMAE (max)", "paper TrustMAE (max)", "Δ"]
    assert trustmae.mvtec_comparison(ours.drop("mvtec:wood"), paper).empty


def test_downsampling_grid_and_claim_rows():
    records = [noisy("trustmae", 0.0, 0, AUROC_1, category=c) for c in ("grid", "wood")]
    for r, n in zip(records, (1, 3)):
        r.config["params"] = {"n_down": n}
        r.metrics.update(image_auroc=0.5, pixel_auroc=0.5)
    df = trustmae.downsampling_frame(records, 64)
    assert list(df["latent grid"]) == ["32x32", "8x8"]
    rows, claim = trustmae.downsampling_claim(df, [3, 1])
    assert list(rows["category"]) == ["grid"] and claim.endswith("ours: 1 against 3 on synthetic:grid")
    rows, claim = trustmae.downsampling_claim(df[df["category"] == "wood"], [1, 3])
    assert len(rows) == 1 and "none of the four is among them" in claim


def test_memory_access_and_distance_tables():
    r = noisy("trustmae", 0.0, 0, AUROC_1, memory={"mean_nonzero_weights": 3.0, "slots_used": 12,
                                                    "train_usage": [0.2, 0.5, 0.3]})
    r.metrics["image_auroc"] = 0.9
    stats = trustmae.memory_access_table({"sparse": r})
    assert stats.loc["largest slot share", "sparse"] == 0.5
    assert trustmae.access_frame(stats).to_dict("records") == [{"addressing": "sparse",
                                                                "non-zero weights per latent vector": 3.0}]
    masks = torch.zeros(4, 2, 2)
    masks[2:, 0, 0] = 1
    maps = torch.zeros(4, 2, 2)
    maps[2:, 0, 0] = 5.0                  # high exactly on the defects: pixel and image AUROC 1
    prep = SimpleNamespace(masks=masks, labels=LABELS4)
    scores = trustmae.distance_scores({"mse": maps, "pd": -maps}, prep)
    assert scores.loc["mse", "pixel AUROC"] == pytest.approx(1.0) and scores.loc["mse", "image AUROC (max)"] == 1.0
    assert scores.loc["pd", "image AUROC (max)"] == pytest.approx(0.5)   # every max is 0: ties
    assert list(trustmae.distance_frame(scores)["distance"]) == ["MSE", "PD"]
    assert trustmae.distance_scores({"mse": maps}, SimpleNamespace(masks=None, labels=LABELS4)).empty


def test_example_indices_take_defect_free_then_defective():
    assert trustmae.example_indices([1, 0, 1, 0, 0], 4) == [1, 3, 0, 2]
    assert trustmae.example_indices([1, 1, 1, 0], 3) == [3, 0, 1]


def test_the_difference_of_drops_configs_run_unit_by_unit():
    chapter = spec.chapter("trustmae", "smoke")
    configs = trustmae.drop_configs(chapter, ["memae", "trustmae", "ae_ssim"], [0.4, 0.0, 0.2], seeds=[0, 1])
    units = [(c["seed"], c["method"], c["split"]["ratio"]) for c in configs]
    pairs = chapter.pairs(chapter.grids["drop_categories"] or None, chapter.grids["drop_real"])
    assert units == [(s, m, x) for s in (0, 1) for _ in pairs for m in ("trustmae", "memae") for x in (0.0, 0.4)]
    assert all(c["data"][k] == v for c in configs for k, v in chapter.grids["drop_data"].items())
    grid = trustmae.noise_configs(chapter, ["trustmae"], chapter.categories(), [0.0, 0.4])
    assert len(grid) == 2 * len(chapter.categories()) * len(chapter.seeds)
    assert {c["seed"] for c in trustmae.screen_configs(chapter, ["trustmae"], ["wood"])} == {chapter.seeds[0]}
