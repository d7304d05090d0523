"""N-pad's analysis functions on small hand-built records and frames, against values worked out by hand."""
import math

import numpy as np
import pandas as pd
import pytest

from defectbook import DefectbookError
from defectbook.analysis import npad
from defectbook.paths import file_sha256
from defectbook.pipeline.store import Record

LABELS4 = [0, 0, 1, 1]
PERFECT = [0.1, 0.2, 0.3, 0.4]      # image AUROC 1.0 on LABELS4
THREE_QUARTERS = [0.1, 0.3, 0.2, 0.4]  # defective 0.2 > 0.1, < 0.3; 0.4 above both: AUROC 3/4
HALF = [0.4, 0.1, 0.3, 0.2]          # 0.3 > 0.1, < 0.4; 0.2 > 0.1, < 0.4: AUROC 2/4


def rec(method, seed=0, dataset="synthetic", category="wood", scores=(), labels=(), key=None, params=None,
        split=None, metrics=None, extras=None):
    config = {"method": method, "dataset": dataset, "category": category, "seed": seed, "profile": "smoke",
              "params": params or {}, "split": split or {"kind": "clean"}}
    return Record(key=key or f"{method}-{dataset}-{category}-{seed}-{params}-{split}", config=config,
                  metrics=metrics or {}, timings={}, memory={}, scores=list(scores), labels=list(labels),
                  defects=["good" if y == 0 else "crack" for y in labels], extras=extras or {})


def test_labelled_frame_labels_each_run_with_its_key():
    a = [rec("npad", 0, params={"r": 1}, metrics={"pixel_auroc": 0.8, "image_auroc": 0.5}),
         rec("npad", 1, params={"r": 1}, metrics={"pixel_auroc": 0.6, "image_auroc": 0.5})]
    b = [rec("npad", 0, params={"r": 2}, metrics={"pixel_auroc": 0.9, "image_auroc": 0.5})]
    runs = {("train_radius", 1): a, ("train_radius", 2): b}
    assert npad.records_of(runs) == a + b
    df = npad.labelled_frame(runs, ("param", "value"))
    assert list(df["value"]) == [1, 1, 2] and set(df["param"]) == {"train_radius"}
    one = npad.labelled_frame({"uniform": a}, "weighting")
    assert list(one["weighting"]) == ["uniform", "uniform"]
    table = npad.sweep_table(df)
    assert table.loc[("train_radius", 1), "pixel_auroc"] == pytest.approx(0.7)
    best = npad.best_settings(df)
    assert best.loc["train_radius", "our best (pixel AUROC)"] == 2
    assert best.loc["d", "paper's best"] == 550 and math.isnan(best.loc["d", "our best (pixel AUROC)"])
    radius = npad.radius_frame(df.assign(param=["train_radius", "train_radius", "shift"]))
    assert list(radius["radius"]) == ["radius 1", "radius 1"]


def test_mean_metrics_and_pivot_keep_first_appearance_order():
    df = pd.DataFrame({"size": ["b", "b", "a"], "shots": [1, 1, 2], "method": ["npad", "npad", "patchcore"],
                       "pixel_auroc": [0.8, 0.6, 0.9], "image_auroc": [0.5, 0.7, 1.0], "aupro": [0.1, 0.3, 0.2]})
    table = npad.mean_metrics(df, "size")
    assert list(table.index) == ["b", "a"] and list(table.columns) == ["pixel_auroc", "image_auroc", "aupro"]
    assert table.loc["b", "aupro"] == pytest.approx(0.2)
    pivot = npad.metric_pivot(df, "shots", "method")
    assert list(pivot.columns) == ["image · npad", "image · patchcore", "pixel · npad", "pixel · patchcore"]
    assert pivot.loc[1, "image · npad"] == pytest.approx(0.6) and math.isnan(pivot.loc[1, "pixel · patchcore"])


def test_paper_differences_use_display_names_and_nan_for_a_missing_method():
    paper = pd.DataFrame({"image_auroc": [0.95, 0.90], "pixel_auroc": [0.70, 0.75]}, index=["N-pad", "PaDiM"])
    assert npad.paper_difference(paper, "npad", "padim") == pytest.approx(0.05)
    assert math.isnan(npad.paper_difference(paper, "patchcore", "padim"))
    diffs = pd.DataFrame({"a": ["npad", "patchcore"], "b": ["padim", "padim"]})
    cols = npad.paper_pair_differences(diffs, paper)
    assert cols["paper"][0] == pytest.approx(0.05) and cols["pixel, paper"][0] == pytest.approx(-0.05)
    assert math.isnan(cols["paper"][1])


def table1_paper():
    rows = [("average", "N-pad", 0.99, 0.98), ("average", "PaDiM", None, 0.97), ("average", "FastFlow", 0.99, 0.98),
            ("wood", "N-pad", 0.95, 0.96), ("wood", "PaDiM", None, 0.94)]
    return pd.DataFrame(rows, columns=["category", "method", "image_auroc", "pixel_auroc"])


def test_auroc_tables_mean_row_and_paper_columns_on_mvtec():
    recs = [rec("npad", 0, "mvtec", "wood", key="n0", metrics={"image_auroc": 0.8, "pixel_auroc": 0.9}),
            rec("npad", 1, "mvtec", "wood", key="n1", metrics={"image_auroc": 0.6, "pixel_auroc": 0.7}),
            rec("npad", 0, "mvtec", "tile", key="n2", metrics={"image_auroc": 1.0, "pixel_auroc": 0.5}),
            rec("padim", 0, "mvtec", "wood", key="p0", metrics={"image_auroc": 0.5, "pixel_auroc": 0.6})]
    tables = npad.auroc_tables(recs, table1_paper(), synthetic=False)
    image = tables["image_auroc"]
    assert list(image.columns) == ["PaDiM", "PaDiM (paper)", "N-pad", "N-pad (paper)"], "table order, paper beside"
    assert image.loc["mvtec:wood", "N-pad"] == pytest.approx(0.7)
    assert image.loc["mean", "N-pad"] == pytest.approx(0.85), "the mean of the data sets' means"
    assert image.loc["mvtec:wood", "N-pad (paper)"] == 0.95 and image.loc["mean", "N-pad (paper)"] == 0.99
    synthetic = npad.auroc_tables(recs, table1_paper(), synthetic=True)["pixel_auroc"]
    assert list(synthetic.columns) == ["PaDiM", "N-pad"]
    average = npad.paper_average_table(table1_paper())
    assert list(average.index) == ["PaDiM", "N-pad"] and average.loc["N-pad", "pixel_auroc"] == 0.98
    assert npad.paper_average(table1_paper()).loc["FastFlow", "image_auroc"] == 0.99
    df = pd.DataFrame({"method": ["npad", "npad", "padim"], "data": ["b:x", "a:y", "a:y"], "seed": [1, 0, 0],
                       "image_auroc": [0.8, 0.6, 0.5]})
    assert npad.headline(df, ["npad", "padim"]) == ("N-pad, PaDiM, PatchCore and SPADE on data a:y, b:x, seeds 0, 1. "
                                                    "Mean image AUROC: N-pad 0.700, PaDiM 0.500.")


def test_pro_table_and_the_papers_average_row():
    df = pd.DataFrame({"dataset": ["mvtec", "mvtec", "mvtec"], "category": ["wood", "wood", "tile"],
                       "method": ["npad", "npad", "padim"], "aupro": [0.8, 0.6, 0.9]})
    paper = pd.DataFrame({"N-pad": [0.95, 0.93], "PaDiM": [0.92, 0.90], "CFLOW-AD": [0.9, 0.9]},
                         index=pd.Index(["average", "wood"], name="category"))
    table = npad.pro_table(df, paper, synthetic=False)
    assert table.loc["mvtec:wood", "N-pad"] == pytest.approx(0.7)
    assert table.loc["mean", "N-pad"] == pytest.approx(0.7) and table.loc["mean", "PaDiM"] == pytest.approx(0.9)
    assert table.loc["mean", "N-pad (paper)"] == 0.95 and math.isnan(table.loc["mvtec:tile", "N-pad (paper)"])
    assert "CFLOW-AD (paper)" not in table
    assert list(npad.paper_pro_average(paper).columns) == ["PaDiM", "N-pad"]


def test_ablation_and_weighting_tables():
    df = pd.DataFrame({"experiment": ["Exper1", "Exper1", "N-pad"], "pixel_auroc": [0.9, 0.8, 0.95],
                       "image_auroc": [0.5, 0.5, 0.6], "aupro": [0.1, 0.2, 0.3]})
    paper = pd.DataFrame({"pixel_auroc": [0.97, 0.98], "modules": ["A", "A+B+C+D"]}, index=["Exper1", "N-pad"])
    table = npad.ablation_table(df, paper)
    assert table.loc["Exper1", "error (ours)"] == pytest.approx(0.15)
    assert table.loc["N-pad", "modules"] == "A+B+C+D" and table.loc["Exper1", "pixel_auroc (paper)"] == 0.97
    recs = [rec("npad", 0, params={"weighting": "uniform"}, extras={"centre_weight_share": 0.2}),
            rec("npad", 1, params={"weighting": "uniform"}, extras={"centre_weight_share": 0.4}),
            rec("npad", 0, params={"weighting": "random"}, extras={"centre_weight_share": 0.1})]
    wdf = pd.DataFrame({"weighting": ["uniform", "uniform", "random"], "pixel_auroc": [0.9, 0.7, 0.6],
                        "image_auroc": [0.5, 0.5, 0.5], "aupro": [0.1, 0.1, 0.1]})
    wpaper = pd.DataFrame({"pixel_auroc": [0.96]}, index=["uniform"])
    weights = npad.weighting_table(wdf, recs, wpaper)
    assert weights.loc["uniform", "mean weight share of the centre"] == pytest.approx(0.3)
    assert weights.loc["uniform", "pixel_auroc"] == pytest.approx(0.8)
    assert math.isnan(weights.loc["random", "pixel_auroc (paper)"])


def test_kmeans_table_matches_the_papers_rounded_ratios():
    paper = npad.by_ratio(pd.DataFrame({"kmeans_ratio": [0.100001, 0.01], "image_auroc": [0.99, 0.97]}))
    assert paper[0.1] == 0.99
    recs = [rec("npad", 0, params={"kmeans_ratio": 0.1}, extras={"n_centroids": 10}),
            rec("npad", 1, params={"kmeans_ratio": 0.1}, extras={"n_centroids": 13}),
            rec("npad", 0, params={"kmeans_ratio": 0.05}, extras={"n_centroids": 5})]
    df = pd.DataFrame({"kmeans_ratio": [0.1, 0.1, 0.05], "image_auroc": [0.8, 0.6, 0.5], "pixel_auroc": [0.9] * 3})
    table = npad.kmeans_table(df, recs, paper)
    assert list(table.index) == [0.1, 0.05], "largest ratio first"
    assert table.loc[0.1, "image_auroc"] == pytest.approx(0.7) and table.loc[0.1, "centroids"] == 11
    assert table.loc[0.1, "image_auroc (paper)"] == 0.99 and math.isnan(table.loc[0.05, "image_auroc (paper)"])


def test_size_label():
    assert npad.size_label({"resize": 128, "crop": 112}) == "112 crop of 128"
    assert npad.size_label({"resize": 128, "crop": None}) == "128 resize"


def test_usable_backbones_skips_those_without_weights(monkeypatch):
    def resolve(name):
        if name == "resnet18":
            raise DefectbookError("no weight file")
        return name

    monkeypatch.setattr(npad, "resolve_weight_file", resolve)
    usable, skipped = npad.usable_backbones(["efficientnet_lite0", "resnet18", "wide_resnet50_2"], dry_run=False)
    assert usable == ["efficientnet_lite0", "wide_resnet50_2"] and skipped == ["skipped resnet18: no weight file"]
    assert npad.usable_backbones(["resnet18"], dry_run=True) == (["resnet18"], [])


def test_mtd_table_and_split_sentence():
    recs = [rec("npad", 0, "mtd", None, key="a", metrics={"image_auroc": 0.9, "pixel_auroc": 0.8, "aupro": 0.5},
                extras={"split": {"n_test": 583, "n_test_defective": 392, "n_train": 761}}),
            rec("npad", 1, "mtd", None, key="b", metrics={"image_auroc": 0.7, "pixel_auroc": 0.8, "aupro": 0.5})]
    paper = pd.DataFrame({"image_auroc": [0.95, 0.9]}, index=["N-pad", "DifferNet"])
    table = npad.mtd_table(recs, paper)
    assert table.loc["N-pad", "image_auroc"] == pytest.approx(0.8) and table.loc["N-pad", "image_auroc (paper)"] == 0.95
    assert "DifferNet" in table.index, "the paper's rows without ours stay (outer join)"
    assert npad.split_sentence(recs).startswith("Test images: 583 (392 defective), training images: 761.")


def test_score_variants_and_their_paired_difference_from_padim():
    variants = {"topk_mean": HALF, "top1_map": PERFECT, "top1_centroid": PERFECT, "map_max": THREE_QUARTERS}
    n = rec("npad", 0, "mtd", None, key="n", scores=PERFECT, labels=LABELS4, extras={"score_variants": variants})
    p = rec("padim", 0, "mtd", None, key="p", scores=THREE_QUARTERS, labels=LABELS4, metrics={"image_auroc": 0.75})
    assert npad.score_variant_table([p]).empty, "no N-pad score variants: nothing"
    table = npad.score_variant_table([n, p], n_boot=50)
    assert len(table) == 6 and list(table["method"]) == ["N-pad"] * 5 + ["PaDiM"]
    assert list(table["image AUROC"]) == pytest.approx([1.0, 0.5, 1.0, 1.0, 0.75, 0.75])
    assert list(table["minus PaDiM"][:5]) == pytest.approx([0.25, -0.25, 0.25, 0.25, 0.0])
    assert math.isnan(table["minus PaDiM"].iloc[5])


def test_mtd_ablation_sets_and_table():
    sets = npad.mtd_ablation_sets(["Exper4"])
    assert list(sets) == ["Exper4", "Exper1, train radius 0", "N-pad"]
    assert sets["Exper1, train radius 0"]["train_radius"] == 0 and sets["N-pad"] == {}
    n = rec("npad", 0, key="n", scores=PERFECT, labels=LABELS4, metrics={"image_auroc": 1.0, "pixel_auroc": 0.9},
            extras={"score_variants": {"map_max": HALF}})
    p = rec("padim", 0, key="p", metrics={"image_auroc": 0.6})
    table = npad.mtd_ablation_table({"Exper4": [n]}, [n, p])
    assert list(table["experiment"]) == ["Exper4", "PaDiM"]
    assert list(table["image AUROC, map maximum"]) == pytest.approx([0.5, 0.6])


def test_training_sizes_and_split():
    assert npad.training_sizes([300, 100, 100]) == [100, 300, None]
    assert npad.mtd_split(None) == {"kind": "clean"} and npad.mtd_split(50) == {"kind": "clean", "max_train": 50}


def curve_runs():
    def r(method, n, scores):
        return rec(method, 0, "mtd", None, key=f"{method}{n}", scores=scores, labels=LABELS4,
                   extras={"split": {"n_train": n or 761}, "memory_size": 7}, metrics={"image_auroc": 0.0})
    return {("padim", 10): [r("padim", 10, HALF)], ("patchcore", 10): [r("patchcore", 10, THREE_QUARTERS)],
            ("padim", None): [r("padim", None, THREE_QUARTERS)], ("patchcore", None): [r("patchcore", None, PERFECT)]}


def test_training_size_curve_differences_by_hand():
    curve = npad.training_size_curve(curve_runs(), [10, None], n_boot=50)
    assert list(curve.columns) == npad.CURVE_COLUMNS and list(curve["training images"]) == [10, 761]
    assert list(curve["PaDiM"]) == pytest.approx([0.5, 0.75]) and list(curve["PatchCore"]) == pytest.approx([0.75, 1.0])
    assert list(curve["PatchCore − PaDiM"]) == pytest.approx([0.25, 0.25])
    assert curve["PaDiM − whole list"].iloc[0].startswith("-0.250 [") and curve["PaDiM − whole list"].iloc[1] == "—"
    assert (curve["95 % low"] <= curve["PatchCore − PaDiM"]).all()
    assert npad.smallest_gap_sentence(curve).startswith(" With 10 training images PatchCore minus PaDiM is +0.250 [")
    assert npad.smallest_gap_sentence(curve.iloc[:0]) == "" and npad.smallest_gap_sentence(curve.iloc[1:]) == ""
    runs = curve_runs()
    runs["padim", 10] = [rec("padim", 0, key="x", scores=HALF, labels=[1, 0, 0, 1])]
    with pytest.raises(DefectbookError, match="different test images"):
        npad.training_size_curve(runs, [10], n_boot=20)


def test_control_table_against_the_reference_and_padim():
    runs = curve_runs()
    ref, pad = runs["patchcore", None], runs["padim", None]
    control = {"full bank": ({"coreset_ratio": 1.0}, runs["patchcore", 10], pad), }
    table = npad.control_table({"reference": ({}, ref, pad), **control}, n_boot=50)
    assert list(table["PatchCore"]) == ["reference", "full bank"]
    assert table["− reference"].iloc[0] == "—" and table["− reference"].iloc[1].startswith("-0.250 [")
    assert table["− PaDiM"].iloc[0].startswith("+0.250 [") and table["− PaDiM"].iloc[1].startswith("+0.000 [")
    assert list(table["memory bank"]) == [7, 7]


def test_auroc_interval_table():
    recs = [rec("patchcore", 3, "elpv", "mono", scores=THREE_QUARTERS, labels=LABELS4,
                extras={"split": {"n_train": 8}})]
    table = npad.auroc_interval_table(recs, n_boot=50)
    row = table.iloc[0]
    assert row["data"] == "ELPV mono" and row["method"] == "PatchCore" and row["image AUROC"] == pytest.approx(0.75)
    assert row["training cells"] == 8 and row["test cells"] == 4 and row["defective test cells"] == 2
    assert row["95 % low"] <= 0.75 <= row["95 % high"]


def test_precision_recall_of_a_scaled_map(tmp_path):
    masks = np.zeros((1, 2, 2), dtype=bool)
    masks[0, 0, 0] = True
    maps = np.array([[[4.0, 3.0], [1.0, 2.0]]], dtype="float32")   # scaled: 1, 2/3, 0, 1/3
    np.savez(tmp_path / "m.npz", images=np.zeros((1, 2, 2, 3), dtype="uint8"), masks=masks, maps=maps)
    r = rec("npad", 0, key="m")
    r.store, r.maps_sha256 = str(tmp_path), file_sha256(tmp_path / "m.npz")
    pr = npad.precision_recall_table([r, rec("padim", 0, key="none")], thresholds=[0.5, 0.9])
    assert list(pr["threshold"]) == [0.5, 0.9] and set(pr["method"]) == {"N-pad"}
    assert pr["precision"].iloc[0] == pytest.approx(0.5) and pr["recall"].iloc[0] == 1.0   # 2 flagged, 1 defect
    assert pr["flagged"].iloc[0] == pytest.approx(0.5) and pr["precision"].iloc[1] == 1.0
    at = npad.at_threshold(pr, 0.9)
    assert (
        list(at.columns) == ["precision", "recall", "flagged"]
        and at.loc[("N-pad", "synthetic:wood"), "flagged"] == 0.25
    )


def test_per_category_table_and_mtd_beside_the_paper():
    df = pd.DataFrame({"dataset": ["synthetic", "synthetic", "synthetic", "mtd"], "category": ["a", "a", "b", None],
                       "image_auroc": [0.8, 0.6, 1.0, 0.9], "pixel_auroc": [0.9] * 4, "aupro": [0.5] * 4})
    table = npad.per_category_table(df, ["image_auroc"])
    assert list(table["category"].fillna("-")) == ["-", "a", "b", "mean"]
    assert table.set_index("category").loc["mean", "image_auroc"] == pytest.approx(0.85), "mean of the categories"
    paper = pd.DataFrame({"method": ["PaDiM", "N-pad"], "image_auroc": [0.95, 0.99], "pixel_auroc": [0.8, 0.9],
                          "aupro": [None, None]})
    cmp = npad.beside_paper(df, paper)
    assert cmp.loc["image_auroc", "Δ"] == pytest.approx(-0.05) and cmp.loc["pixel_auroc", "Δ"] == pytest.approx(0.1)
    assert npad.beside_paper(df[df.dataset == "synthetic"], paper).empty
