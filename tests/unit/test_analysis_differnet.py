"""DifferNet's page analysis on small hand-built records and frames."""
import math

import numpy as np
import pandas as pd
import pytest

from defectbook.analysis import differnet
from defectbook.pipeline.store import Record


def rec(method="differnet", seed=0, scores=(0.1, 0.2, 0.8, 0.9), labels=(0, 0, 1, 1), extras=None, **config):
    cfg = {"method": method, "dataset": "mtd", "category": None, "seed": seed, "profile": "smoke",
           "params": {"layer": "layer3", "train_bank": 4, "epochs": 3, "test_transforms": 8, "jitter": 0.0},
           "transform": {"resize": 64}, **config}
    auroc = np.mean([float(s1 > s0) + 0.5 * float(s1 == s0) for s1, y1 in zip(scores, labels) if y1
                     for s0, y0 in zip(scores, labels) if not y0])
    return Record(key=f"{method}{seed}{scores}", config=cfg, metrics={"image_auroc": auroc},
                  timings={"fit_s": 2.0 + seed, "predict_s": 0.5, "predict_images_per_s": 10.0 * (seed + 1)},
                  memory={}, scores=list(scores), labels=list(labels), defects=["good"] * len(labels),
                  extras=extras or {})


def test_fewshot_table_and_claim_pair_the_largest_with_the_smallest_training_set():
    df = pd.DataFrame({"data": ["a:", "a:", "a:", "b:"], "shots": [2, 2, 8, 8], "seed": [0, 1, 0, 0],
                       "image_auroc": [0.5, 0.7, 0.9, 0.4]})
    t = differnet.fewshot_table(df)
    assert t.loc["a:", 2] == pytest.approx(0.6) and t.loc["a:", 8] == 0.9 and math.isnan(t.loc["b:", 2])
    c = differnet.fewshot_claim(df)
    assert c["frame"] is df


def test_localization_tables_average_per_backbone_and_claim_keeps_one_backbone():
    df = pd.DataFrame({"backbone": ["x", "x", "y"], "dataset": ["s", "s", "s"], "category": ["c", "d", "c"],
                       "image_auroc": [0.6, 0.8, 0.5], "pixel_auroc": [0.7, 0.9, 0.5], "aupro": [0.1, 0.3, 0.2]})
    per_cat, per_bb = differnet.localization_tables(df)
    assert per_bb.loc["x", "pixel_auroc"] == pytest.approx(0.8) and per_cat.loc[("y", "s", "c"), "aupro"] == 0.2
    c = differnet.localization_claim(df, "y")
    assert list(c["frame"]["backbone"]) == ["y"]


def test_table1_adds_a_mean_row_and_puts_the_paper_only_beside_mvtec_and_means():
    df = pd.DataFrame({"dataset": ["synthetic", "synthetic", "mvtec", "synthetic", "synthetic", "mvtec"],
                       "category": ["wood", "grid", "wood", "wood", "grid", "wood"],
                       "data": ["synthetic:wood", "synthetic:grid", "mvtec:wood"] * 2, "seed": [0] * 6,
                       "column": ["DifferNet"] * 3 + ["1-NN"] * 3, "image_auroc": [0.8, 0.6, 0.9, 0.5, 0.7, 0.85]})
    columns = differnet.table1_columns(16)
    assert list(columns)[-1] == "DifferNet (16 shots)" and columns["DifferNet (16 shots)"][1] == {
        "kind": "few_shot",
        "n": 16,
    }
    table = differnet.table1_table(df, columns)
    assert list(table.columns) == ["1-NN", "DifferNet"], "in the order of the columns, those that ran"
    assert table.loc[("synthetic", "mean"), "DifferNet"] == pytest.approx(0.7)
    assert table.loc[("mvtec", "mean"), "1-NN"] == pytest.approx(0.85)
    paper = pd.DataFrame({"category": ["wood", "average"], "ocsvm": [0.5, 0.6], "knn": [0.8, 0.7],
                          "differnet": [0.95, 0.9], "differnet_16shots": [0.9, 0.85]}).set_index("category")
    beside = differnet.table1_beside_paper(table, paper).set_index(["data", "column"])
    assert beside.loc[("mvtec:wood", "DifferNet"), "Δ"] == pytest.approx(0.9 - 0.95)
    assert beside.loc[("mvtec:mean", "1-NN"), "paper"] == 0.7
    assert beside.loc[("synthetic:mean", "DifferNet"), "paper"] == 0.9, "the paper's average beside our mean"
    assert math.isnan(beside.loc[("synthetic:mean", "DifferNet"), "Δ"]), "never synthetic against MVTec"
    assert pd.isna(beside.loc[("synthetic:wood", "DifferNet"), "paper"]), "no paper value for a synthetic category"
    text = differnet.table1_means_text(df, columns)
    assert text.startswith("Mean image AUROC over mvtec:wood, synthetic:grid, synthetic:wood (seeds 0): ")
    assert "1-NN 0.683, DifferNet 0.767." in text
    assert differnet.table1_claim(df, paper)["paper_effect"] == pytest.approx(0.2)
    head = differnet.headline(df, paper)
    assert head["headline_ours"] == pytest.approx(0.7667, abs=1e-4) and head["headline_paper"] == 0.9


def test_ablation_variants_and_table_beside_the_paper():
    variants = differnet.ablation_variants([1.0, 0.5], (4, 16, 64))
    assert variants["B"]["test_transforms"] == 64 and variants["E"]["test_transforms"] == 4
    assert variants["A"]["scales"] == [1.0] and variants["G"]["scales"] == [1.0, 0.5]
    per_cat = pd.DataFrame({v: [0.5 + i / 20, 0.6 + i / 20] for i, v in enumerate("ABCDEFG")})
    paper = pd.DataFrame({"config": list("ABCDEFG"), "test_transforms": [1, 64, 1, 1, 4, 16, 64],
                          "image_auroc": [80.0, 85, 86, 87, 90, 92, 95]}).set_index("config")
    out = differnet.ablation_table(per_cat, variants, paper)
    assert out.loc["A", "multi-scale"] == "no" and out.loc["C", "train transforms"] == "no"
    assert out.loc["G", "ours (mean AUROC)"] == pytest.approx(0.85) and out.loc["G", "paper (MVTec mean)"] == 0.95
    assert differnet.ablation_claim(pd.DataFrame(), paper)["paper_effect"] == pytest.approx(0.15)


def test_snapshots_best_epoch_and_table2_mean_over_seeds():
    snaps = {"snapshot_epochs": [1, 2], "snapshot_scores": [[0.9, 0.2, 0.1, 0.8], [0.1, 0.2, 0.8, 0.9]]}
    a = rec(seed=0, extras=snaps)
    assert differnet.snapshot_aurocs(a) == [(1, 0.25), (2, 1.0)]
    assert differnet.best_on_test(a) == (1.0, 2)
    b = rec(seed=1, scores=(0.1, 0.9, 0.8, 0.2))           # AUROC 0.5, no snapshots
    assert differnet.snapshot_aurocs(b) == [] and math.isnan(differnet.best_on_test(b)[0])
    knn = rec("knn", 0, scores=(0.3, 0.1, 0.2, 0.9))       # AUROC 0.75
    paper = pd.Series({"DifferNet": 0.97, "1-NN": 0.8})
    t = differnet.mtd_table([a, knn, b], paper)
    assert list(t.index) == ["DifferNet", "1-NN"]
    assert t.loc["DifferNet", "ours"] == pytest.approx(0.75) and t.loc["DifferNet", "fit_s"] == pytest.approx(2.5)
    assert t.loc["1-NN", "Δ (ours - paper)"] == pytest.approx(0.75 - 0.8)
    assert t.loc["DifferNet", "best epoch on test"] == 1.0, "the mean skips the seed without snapshots"
    diffs = pd.DataFrame({"a": ["differnet", "differnet"], "b": ["knn", "ocsvm"]})
    got = differnet.paper_differences(diffs, paper)
    assert got[0] == pytest.approx(0.17) and math.isnan(got[1])


def test_recall_at_zero_false_positives_and_intervals():
    r = rec(scores=(0.1, 0.5, 0.4, 0.9, 0.6), labels=(0, 0, 1, 1, 1))
    assert differnet.recall_at_zero_fp(r) == {"recall": pytest.approx(2 / 3), "good": 2, "defective": 3}
    ci = differnet.auroc_intervals([r], n_boot=200).iloc[0]
    assert ci["method"] == "DifferNet" and ci["test images"] == 5
    assert ci["image AUROC"] == pytest.approx(5 / 6) and ci["95 % low"] <= 5 / 6 <= ci["95 % high"]


def test_cost_rows_name_the_setting_and_add_fit_and_predict():
    r = rec(extras={"feature_dim": 40, "feature_cache_hits": 3})
    r.config["params"]["layer"] = ["layer3", "layer4"]
    row = differnet.cost_row(r, n_boot=100)
    assert row["layer"] == "layer3+layer4" and row["image size"] == 64 and row["dim"] == 40 and row["bank"] == 4
    assert row["image AUROC"] == 1.0 and row["cache hits"] == 3
    t = differnet.cost_table({"profile": r, "small": rec(seed=1)}, n_boot=100)
    assert t.loc["profile", "fit + predict s"] == 2.5 and t.loc["small", "fit + predict s"] == 3.5
    assert t.loc["small", "layer"] == "layer3" and t.loc["small", "cache hits"] == 0
    del r.config["params"]["jitter"]
    assert differnet.cost_row(r, n_boot=100)["jitter"] is None, "a profile without the parameter"
