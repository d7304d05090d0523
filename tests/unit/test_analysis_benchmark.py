"""defectbook.analysis.benchmark on small hand-built records and frames."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from defectbook.analysis import benchmark
from defectbook.pipeline import spec
from defectbook.pipeline.store import Record


def run(method, dataset="synthetic", category="wood", seed=0, labels=(0, 0, 1, 1), scores=(0.0, 1.0, 2.0, 3.0),
        image=0.9, pixel=None, split=None, **extras):
    return Record(key=f"{method}{dataset}{category}{seed}{split}", labels=list(labels), scores=list(scores),
                  defects=["good" if v == 0 else "crack" for v in labels],
                  config={"method": method, "dataset": dataset, "category": category, "seed": seed,
                          "split": split or {"kind": "clean"}},
                  metrics={"image_auroc": image, "pixel_auroc": pixel, "aupro": pixel}, timings={}, memory={},
                  extras=extras)


def test_expensive_methods_run_on_their_data_only():
    grids = {"expensive": ["trustmae"], "expensive_data": ["synthetic:wood"]}
    assert benchmark.runs_on(grids, "trustmae", "synthetic", "wood")
    assert not benchmark.runs_on(grids, "trustmae", "elpv", "mono")
    assert benchmark.runs_on(grids, "padim", "elpv", "mono")
    assert benchmark.runs_on({**grids, "expensive_data": "all"}, "trustmae", "elpv", "mono")


def test_comparison_cells_ranks_and_summary():
    records = [run("padim", image=1.0), run("padim", seed=1, image=0.8), run("npad", image=0.7),
               run("padim", "elpv", "mono", image=0.6, scores=(1.0, 0.0, 2.0, 3.0))]
    df = benchmark.comparison_frame(records)
    assert list(df["data"]) == ["synthetic:wood", "synthetic:wood", "synthetic:wood", "elpv:mono"]
    assert benchmark.method_order(["npad", "trustmae", "padim"], df) == ["N-pad", "PaDiM"]
    mean = df.pivot_table(index="data", columns="model", values="image_auroc", aggfunc="mean")[["N-pad", "PaDiM"]]
    cells = benchmark.auroc_cells(records, mean, n_boot=50)
    assert cells.loc["synthetic:wood", "PaDiM"] == "0.900 [1.00, 1.00]", "mean over seeds, the first seed's interval"
    assert cells.loc["elpv:mono", "N-pad"] == "—"
    assert (
        benchmark.test_sizes_text(records)
        == "Test images per data set (defective): synthetic:wood 4 (2), elpv:mono 4 (2)."
    )
    rank = benchmark.rank_table(mean)
    assert list(rank.index) == ["PaDiM", "N-pad"] and list(rank["mean rank"]) == [1.0, 2.0]
    assert rank.loc["PaDiM", "mean image AUROC"] == pytest.approx(0.9)
    assert benchmark.comparison_summary(rank, mean, 2) == ("2 methods, one protocol. Best mean rank: PaDiM (0.900 mean "
                                                          "image AUROC over 1 data set(s) where all methods ran).")
    assert benchmark.rank_table(mean.drop(index="synthetic:wood")).empty
    assert benchmark.comparison_summary(pd.DataFrame(), mean, 3) == "3 methods, one protocol."


def test_pixel_tables_and_methods_without_maps():
    df = benchmark.comparison_frame([run("padim", pixel=0.8), run("padim", seed=1, pixel=0.6), run("ocsvm")])
    tables = benchmark.pixel_tables(df, ["OCSVM", "PaDiM"])
    assert len(tables) == 2 and all("(rows: data set" in h for h in tables)
    pixel = next(iter(tables.values()))
    assert list(pixel.columns) == ["PaDiM"] and pixel.loc["synthetic:wood", "PaDiM"] == pytest.approx(0.7)
    assert benchmark.no_maps_text(df).startswith("Methods without anomaly maps (image scores only): OCSVM.")
    assert benchmark.pixel_tables(benchmark.comparison_frame([run("ocsvm")]), ["OCSVM"]) == {}


def test_cost_table_floor_share_and_sentences():
    configs = [{"method": m, "params": {"backbone": b, "layer": "l3"}, "transform": {"resize": 64, "crop": c}}
               for m, b, c in (("padim", "resnet18", 56), ("memae", None, None))]
    records = [run("padim", split={"n_train": 10}), run("memae", split={"n_train": 10})]
    for r, fit, speed in zip(records, (2.0, 30.0), (50.0, 200.0)):
        r.timings.update(fit_s=fit, predict_images_per_s=speed)
        r.memory["peak_rss_mb"] = 500.0
        r.extras["split"] = {"n_train": 10}
    floors = {benchmark.floor_key(configs[0]): {"backbone": "resnet18 to l3", "floor images/s": 100.0},
              benchmark.floor_key(configs[1]): None}
    assert benchmark.floor_key(configs[0]) == ("resnet18", ("l3",), 64, 56)
    cost = benchmark.cost_table(configs, records, floors)
    assert cost.loc["PaDiM", "floor share"] == pytest.approx(0.5) and np.isnan(cost.loc["MemAE", "floor share"])
    assert cost.loc["PaDiM", "image size"] == 56 and cost.loc["MemAE", "image size"] == 64
    assert cost.loc["MemAE", "backbone"] == "trained from scratch"
    assert benchmark.cost_summary(cost) == ("Fastest fit: PaDiM (2.0 s); slowest: MemAE (30.0 s); fastest inference: "
                                            "MemAE (200.0 images/s).")
    configs[0].update(dataset="elpv", category="mono")
    assert "except PaDiM: measured again" in benchmark.cost_note(configs, records, ["PaDiM"], True)
    assert "; PaDiM: backbone features served" in benchmark.cost_note(configs, records, ["PaDiM"], False)
    assert benchmark.cost_note(configs, records, [], True).startswith("Data: elpv:mono, 4 test images; threads: ")
    assert benchmark.backbone_floor(configs[1], 4) is None, "no pretrained backbone, no floor"


def test_records_that_found_cached_features_are_named_and_kept_without_remeasuring():
    records = [run("padim"), run("npad", feature_cache_hits=3)]
    kept, names = benchmark.remeasure_shared([{}, {}], records, remeasure=False)
    assert names == ["N-pad"] and kept == records


def test_cost_pair_falls_back_to_the_first_pair():
    def chapter(data):
        return SimpleNamespace(pairs=lambda: [("synthetic", "wood"), ("elpv", "mono"), ("mtd", None)],
                               grids={"cost_data": data})
    assert benchmark.cost_pair(chapter("elpv:mono")) == ("elpv", "mono")
    assert benchmark.cost_pair(chapter("mtd")) == ("mtd", None)
    assert benchmark.cost_pair(chapter("elpv:poly")) == ("synthetic", "wood")


def test_share_of_the_full_data_auroc_reached_with_few_images():
    records = [run("padim", split={"kind": "few_shot", "n": 2})]
    records[0].extras["split"] = {"n_train": 2}
    assert list(benchmark.training_size_frame(records)["n_train"]) == [2]
    curves = pd.DataFrame({"PaDiM": [0.6, 0.8], "N-pad": [0.72, 0.8]}, index=[2, 100])
    gain = benchmark.share_reached(curves)
    assert list(gain.index) == ["N-pad", "PaDiM"] and list(gain["share reached"]) == pytest.approx([0.9, 0.75])
    assert list(gain.columns[:2]) == ["AUROC with 2", "AUROC with 100"]
    assert benchmark.fewshot_summary(gain, curves) == ("With 2 training images, N-pad keeps the largest share of its "
                                                       "AUROC at 100 (0.90).")
    assert benchmark.data_text([("synthetic", "wood")], records) == "Data: synthetic:wood; test images per run: [4]."


def test_noise_frame_achieved_share_and_drop_sentence():
    records = [run("padim", split={"kind": "noisy", "ratio": 0.2}), run("npad")]
    records[0].extras["split"] = {"noise_ratio": 0.15}
    records[1].extras["split"] = {}
    df = benchmark.noise_frame(records)
    assert list(df["noise"]) == [0.2, 0.0] and list(df["achieved"]) == [0.15, 0.0]
    assert benchmark.achieved_text(df, records) == ("Achieved defective share of the training set per level: 0% → 0%, "
                                                    "20% → 15%; test images per run: [4] (one fixed test set).")
    drops = pd.DataFrame({"drop": [-0.01, 0.2]}, index=["PaDiM", "N-pad"])
    assert benchmark.drop_summary(drops, [0.0, 0.4]) == ("Smallest drop from 0% to 40% noise: PaDiM (-0.010); "
                                                         "largest: N-pad (+0.200).")


def test_benchmark_grids_of_the_smoke_profile():
    chapter = spec.chapter("benchmark", "smoke")
    pairs = chapter.categories()[:1]
    few = benchmark.fewshot_configs(chapter, ["padim"], pairs, [2, 4])
    assert [c["split"].get("n") for c in few] == [n for n in (2, 4) for _ in chapter.seeds] + [None] * len(
        chapter.seeds
    )
    noisy = benchmark.noise_configs(chapter, ["padim"], [("synthetic", pairs[0][1])], [0.0, 0.4])
    assert [c["split"]["ratio"] for c in noisy] == [x for x in (0.0, 0.4) for _ in chapter.seeds]
    assert all(c["data"] == spec.synthetic_data(chapter.P, chapter.grids["noise_data"]) for c in noisy)
    assert all(benchmark.runs_on(chapter.grids, c["method"], c["dataset"], c["category"])
               for c in benchmark.comparison_configs(chapter, chapter.compare))


def test_reproducibility_counts_glued_and_summarised():
    verdicts = ("value matches", "value differs", "not comparable", "not computed")
    counts = pd.DataFrame({"value matches": [2], "value differs": [0], "not comparable": [0], "not computed": [3],
                           "total": [5]}, index=["N-pad"])
    glued = benchmark.verdict_glue(counts, {"npad": "N-pad", "trustmae": "TrustMAE"}, verdicts)
    assert glued["npad_value_matches"] == 2 and glued["npad_not_computed"] == 3
    assert glued["trustmae_value_differs"] == 0
    report = pd.DataFrame({"verdict": ["value matches"] * 2 + ["not computed"] * 3})
    text = benchmark.report_summary(report, counts, 7, "smoke", verdicts)
    assert text.startswith("Profile smoke: the book's pages cover 5 paper cells; this build computed 2 of them "
                           "from 7 records: 2 value matches, 0 value differs and 0 not comparable. "
                           "N-pad: 2 value matches (of 5).")
    assert text.endswith("every computed cell is not comparable.")
    none = benchmark.report_summary(report.assign(verdict="not computed"), counts * 0 + [0, 0, 0, 5, 5], 0, "cpu",
                                    verdicts)
    assert "computed 0 of them" in none and "reproduced" not in none and "N-pad: none computed (of 5)" in none
