"""NDP-Net's page analysis on small hand-built records, frames, maps and a stand-in encoder."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from defectbook.analysis import ndpnet
from defectbook.pipeline.store import Record


def rec(method, category="wood", seed=0, image=0.8, pixel=0.7, per_s=50.0, env=None):
    return Record(key=f"{method}{category}{seed}",
                  config={"method": method, "dataset": "synthetic", "category": category,
                                                          "seed": seed, "profile": "smoke"},
                  metrics={"image_auroc": image, "pixel_auroc": pixel, "aupro": pixel / 2},
                  timings={"fit_s": 1.0, "predict_s": 1.0, "predict_images_per_s": per_s}, memory={"peak_rss_mb": 10.0},
                  scores=[], labels=[], defects=[], env=env or {})


def test_chosen_keeps_named_datasets_or_pairs():
    pairs = [("synthetic", "wood"), ("synthetic", "grid"), ("mtd", None)]
    assert ndpnet.chosen(pairs) == pairs
    assert ndpnet.chosen(pairs, ["mtd", "synthetic:grid"]) == [("synthetic", "grid"), ("mtd", None)]


def test_timing_frame_turns_throughput_into_ms_per_image_and_names_the_device():
    df = ndpnet.timing_frame([rec("ndpnet", per_s=50.0, env={"machine": "x86_64"}),
                              rec("ae_ssim", per_s=200.0, env={"machine": "x86_64", "cuda": "12.1"})])
    assert list(df["ms per image"]) == [20.0, 5.0] and list(df["model"]) == ["NDP-Net", "AE-SSIM"]
    assert list(df["device"]) == ["x86_64 CPU", "x86_64 + CUDA"] and set(ndpnet.TIMING_COLUMNS) <= set(df.columns)
    paper = pd.DataFrame({"method": ["NDP-Net", "AE-SSIM"], "image_auroc_percent": [95.0, 70.0]})
    assert ndpnet.timing_claim(df, paper)["paper_effect"] == pytest.approx(0.25)


def test_dagm_table_means_seeds_then_classes_with_a_population_std():
    records = [rec("ndpnet", "Class1", 0, pixel=0.9), rec("ndpnet", "Class1", 1, pixel=0.7),
               rec("ndpnet", "Class2", 0, pixel=0.6)]
    row = ndpnet.dagm_table(records).iloc[0]
    assert row["Class1"] == pytest.approx(0.8) and row["average"] == pytest.approx(0.7)
    assert row["standard deviation"] == pytest.approx(0.1), "ddof=0 over the two class means"
    paper = pd.DataFrame({"method": ["ACDN"], "average": [0.85]}).set_index("method")
    assert ndpnet.dagm_claim(records, paper)["reference"] == 0.85


class Encoder:
    """A stand-in detector whose encoder features are the image itself at three scales."""

    def encoder_features(self, x):
        return [x, torch.nn.functional.avg_pool2d(x, 2), torch.nn.functional.avg_pool2d(x, 4), x]


def test_feature_differences_are_channel_means_of_squared_differences_at_image_size():
    a = torch.zeros(1, 2, 4, 4)
    b = a.clone()
    b[0, 0] = 2.0                                  # channel 0 differs by 2 everywhere, channel 1 not at all
    d = ndpnet.feature_differences(Encoder(), a, b)
    assert len(d) == 3 and all(x.shape == (1, 4, 4) for x in d)
    assert torch.allclose(d[0], torch.full((1, 4, 4), 2.0)) and torch.allclose(d[2], torch.full((1, 4, 4), 2.0))


def test_perception_table_scores_the_difference_maps_against_the_masks():
    good = torch.zeros(3, 1, 8, 8)
    masks = torch.zeros(3, 1, 8, 8)
    masks[0, 0, :4, :4] = masks[1, 0, 4:, 4:] = 1.0     # the third pair has no defect and is left out
    composites = good + masks
    table, n = ndpnet.perception_table({"perfect": Encoder()}, good, composites, masks)
    assert n == 2 and table.loc[0, "layer 1"] == 1.0, "the difference is exactly the defect at layer 1"
    claim = ndpnet.perception_claim(pd.DataFrame({"encoder": ["with L_def_per", "without L_def_per"],
                                                  "layer 1": [0.9, 0.6], "layer 2": [0.8, 0.7]}))
    assert len(claim["frame"]) == 4 and set(claim["frame"]["layer"]) == {"layer 1", "layer 2"}


def test_repair_claim_pairs_in_defect_against_everywhere_per_layer_and_branch():
    weights = pd.DataFrame([{"layer": 1, "F_ad": 0.5, "F_rep2": 0.3, "F_rep2 in defect": 0.6},
                            {"layer": 2, "F_ad": 0.4, "F_rep2": 0.2}])      # layer 2: no defect at its size
    long = ndpnet.repair_claim(weights, [2])["frame"]
    assert len(long) == 3, "layer 2 has no in-defect weight: only its everywhere row"
    assert long.set_index(["layer", "where"]).loc[(1, "in defect"), "weight"] == 0.6


def test_map_aurocs_and_the_fused_map_against_the_best_single_scale():
    masks = np.zeros((2, 2, 2))
    masks[1, 0, 0] = 1
    labels = np.array([0, 1])
    good = torch.tensor(masks, dtype=torch.float32)
    maps = {"am1": good, "am2": 1 - good, "am3": good * 0.5, "msdsm": good}
    res = ndpnet.map_aurocs(maps, labels, masks)
    assert list(res["map"]) == ndpnet.MULTISCALE_MAPS
    assert (
        res.set_index("map").loc["am2", "pixel AUROC"] == 0.0
        and res.set_index("map").loc["am1", "image AUROC (max)"] == 1.0
    )
    res.loc[res["map"] == "am1", "pixel AUROC"] = 0.2
    assert ndpnet.multiscale_claim(res)["frame"] is res


def test_example_indices_take_defective_images_then_one_good():
    assert ndpnet.example_indices(np.array([0, 1, 0, 1, 1, 1]), 3) == [1, 3, 0]


def test_ablation_table_differences_from_the_full_model():
    labels = np.array([0, 0, 1, 1])
    masks = np.zeros((4, 2, 2))
    masks[2, 0, 0] = masks[3, 1, 1] = 1
    full = masks.copy()
    full[0, 0, 1] = 0.5                                      # a defect-free image scores 0.5: image AUROC 1
    worse = np.ones_like(masks) * np.array([0.9, 0.1, 0.2, 0.3])[:, None, None]
    maps = {ndpnet.FULL: full, "B: no RBAM": worse, "D: pixel gap": full * 0.5}
    t = ndpnet.ablation_table(labels, maps, masks, trained=[ndpnet.FULL, "B: no RBAM"], n_boot=50).set_index("variant")
    assert t.loc[ndpnet.FULL, "image AUROC"] == 1.0 and math.isnan(t.loc[ndpnet.FULL, "Δ image"])
    assert t.loc["B: no RBAM", "image AUROC"] == 0.5, "maxima 0.9, 0.1 (defect-free) against 0.2, 0.3: 2 of 4 pairs"
    assert t.loc["B: no RBAM", "Δ image"] == -0.5
    assert t.loc["B: no RBAM", "model"] == "B" and t.loc["D: pixel gap", "model"] == "A"
    assert t.loc["D: pixel gap", "Δ pixel"] == 0.0 and not t.loc["D: pixel gap", "pixel AUROC lower"]
    paper = pd.DataFrame({"delta_pixel_auroc": [-0.02, -0.04]})
    claim = ndpnet.ablation_claim(t.reset_index(), paper)
    assert claim["paper_effect"] == pytest.approx(0.03) and len(claim["frame"]) == 4
    pairs = claim["frame"]
    assert set(pairs[pairs["model"] == "full model"]["pixel_auroc"]) == {t.loc[ndpnet.FULL, "pixel AUROC"]}


def test_texture_tables_targets_and_headline():
    records = [rec("ndpnet", "wood", image=0.9, pixel=0.8), rec("trustmae", "wood", pixel=0.7),
               rec("ae_ssim", "wood", pixel=0.75), rec("padim", "wood", pixel=0.95),
               rec("ndpnet", "grid", image=0.7, pixel=0.6), rec("trustmae", "grid", pixel=0.65)]
    df = ndpnet.texture_frame(records)
    assert dict(zip(df["method"], df["kind"]))["padim"] == "embedding"
    assert dict(zip(df["method"], df["kind"]))["ae_ssim"] == "reconstruction"
    t = ndpnet.texture_table(df, "pixel_auroc")
    assert t.loc[("reconstruction", "NDP-Net"), "mean"] == pytest.approx(0.7)
    targets = ndpnet.texture_targets(df)
    assert targets.loc["synthetic:wood", "which"] == "AE-SSIM"
    assert targets.loc["synthetic:wood", "NDP-Net above every reconstruction baseline"]
    assert not targets.loc["synthetic:grid", "NDP-Net above every reconstruction baseline"]
    assert targets.loc["synthetic:wood", "gap to best feature method"] == pytest.approx(-0.15)
    paper = pd.DataFrame({"method": ["NDP-Net", "TrustMAE"], "mean": [0.97, 0.9]}).set_index("method")
    head = ndpnet.headline(df, paper)
    assert head == {"headline_ours": pytest.approx(0.8), "headline_paper": 0.97,
                    "headline_data": "synthetic:grid, synthetic:wood"}
    assert ndpnet.texture_claim(df, paper)["paper_effect"] == pytest.approx(0.07)
