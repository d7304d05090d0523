"""Tests of defectbook.evaluation.metrics: hand-computed cases, a brute-force AUPRO reference, error cases."""
from __future__ import annotations

import json
from bisect import bisect

import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from defectbook import DefectbookError
from defectbook.evaluation.metrics import aupro, evaluate, f1_max, image_auroc, pixel_auroc, pro_curve


# ------------------------------------------------------------------------------------------
# independent brute-force reference (loops over thresholds and regions, official trapezoid)
# ------------------------------------------------------------------------------------------
def brute_pro_curve(masks, maps, thresholds):
    """(fpr, pro) lists: (0, 0), then one point per threshold in decreasing order."""
    regions = []
    for i in range(masks.shape[0]):
        lab, n = ndimage.label(masks[i], structure=np.ones((3, 3), dtype=int))
        regions += [(i, lab == k) for k in range(1, n + 1)]
    neg = masks == 0
    fprs, pros = [0.0], [0.0]
    for t in sorted(thresholds, reverse=True):
        pred = maps >= t
        fprs.append(np.sum(pred & neg) / np.sum(neg))
        pros.append(np.mean([np.sum(pred[i] & r) / np.sum(r) for i, r in regions]))
    return fprs, pros


def brute_trapezoid(x, y, x_max):
    """Port of the MVTec AD evaluation's ``trapezoid`` (bisect + linear correction term)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    correction = 0.0
    if x_max not in x:
        ins = bisect(list(x), x_max)
        y_interp = y[ins - 1] + (y[ins] - y[ins - 1]) * (x_max - x[ins - 1]) / (x[ins] - x[ins - 1])
        correction = 0.5 * (y_interp + y[ins - 1]) * (x_max - x[ins - 1])
    keep = x <= x_max
    x, y = x[keep], y[keep]
    return np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1])) + correction


def brute_aupro(masks, maps, thresholds, limit=0.3):
    fprs, pros = brute_pro_curve(masks, maps, thresholds)
    return brute_trapezoid(fprs + [1.0], pros + [1.0], limit) / limit


def random_case(seed, n=6, h=48, w=48, n_good=2, quantize=None):
    """Random blob masks (first ``n_good`` images defect-free) and maps correlated with them."""
    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.standard_normal((n, h, w)), (0, 3, 3))
    masks = (noise > 1.5 * noise.std()).astype(np.uint8)
    masks[:n_good] = 0
    maps = ndimage.gaussian_filter(masks.astype(float), (0, 2, 2)) + 0.35 * rng.standard_normal((n, h, w))
    maps = maps.astype(np.float32)
    if quantize is not None:
        maps = (np.round(maps / quantize) * quantize).astype(np.float32)
    assert masks.any()
    return masks, maps


# ------------------------------------------------------------------------------------------
# image level
# ------------------------------------------------------------------------------------------
def test_image_auroc_perfect_inverted_tied_partial():
    labels = [0, 0, 1, 1]
    assert image_auroc(labels, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert image_auroc(labels, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert image_auroc(labels, [0.5, 0.5, 0.5, 0.5]) == 0.5
    # positive-negative pairs: (0.35>0.1) (0.35<0.4) (0.8>0.1) (0.8>0.4) -> 3/4
    assert image_auroc(labels, [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75, abs=1e-12)
    # one tie between a positive and a negative counts one half: (1 + 0.5 + 1 + 1) / 4
    assert image_auroc(labels, [0.1, 0.4, 0.4, 0.8]) == pytest.approx(0.875, abs=1e-12)
    assert isinstance(image_auroc(labels, [0.1, 0.2, 0.8, 0.9]), float)


def test_f1_max_hand_computed():
    # thresholds: >=0.8 P=1 R=.5 F1=2/3; >=0.4 P=.5 R=.5; >=0.35 P=2/3 R=1 F1=0.8; >=0.1 F1=2/3
    assert f1_max([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.8, abs=1e-12)
    assert f1_max([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == pytest.approx(1.0, abs=1e-12)
    # all tied: the only threshold predicts everything defective: P=2/3, R=1 -> 0.8
    assert f1_max([0, 1, 1], [0.5, 0.5, 0.5]) == pytest.approx(0.8, abs=1e-12)
    # inverted: best is "everything defective": P=1/2, R=1 -> 2/3
    assert f1_max([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == pytest.approx(2 / 3, abs=1e-12)


@pytest.mark.parametrize(
    "labels, scores, match",
    [
        ([1, 1, 1], [0.1, 0.2, 0.3], "both"),
        ([0, 0], [0.1, 0.2], "both"),
        ([0, 1, 1], [0.1, 0.2], "length"),
        ([0, 1], [0.1, np.nan], "NaN"),
        ([0, 2], [0.1, 0.2], "0 and 1"),
        ([], [], "no images"),
    ],
)
def test_image_auroc_errors(labels, scores, match):
    with pytest.raises(DefectbookError, match=match):
        image_auroc(labels, scores)


def test_f1_max_errors():
    with pytest.raises(DefectbookError, match="defective"):
        f1_max([0, 0], [0.1, 0.2])
    with pytest.raises(DefectbookError, match="NaN"):
        f1_max([0, 1], [np.nan, 0.2])


# ------------------------------------------------------------------------------------------
# pixel AUROC
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("quantize", [None, 0.1])
def test_pixel_auroc_matches_sklearn(quantize):
    masks, maps = random_case(1, quantize=quantize)
    expected = roc_auc_score(masks.ravel(), maps.ravel())
    assert pixel_auroc(masks, maps) == pytest.approx(expected, abs=1e-12)


def test_pixel_auroc_perfect_and_inverted_and_constant():
    masks, _ = random_case(2)
    assert pixel_auroc(masks, masks.astype(np.float32)) == 1.0
    assert pixel_auroc(masks, -masks.astype(np.float32)) == 0.0
    assert pixel_auroc(masks, np.zeros(masks.shape, np.float32)) == 0.5


def test_pixel_errors():
    masks, maps = random_case(3)
    with pytest.raises(DefectbookError, match="differs"):
        pixel_auroc(masks, maps[:, :-1])
    with pytest.raises(DefectbookError, match="no defect pixel"):
        pixel_auroc(np.zeros_like(masks), maps)
    with pytest.raises(DefectbookError, match="no defect-free pixel"):
        aupro(np.ones_like(masks), maps)
    with pytest.raises(DefectbookError, match=r"\[N, H, W\]"):
        pixel_auroc(masks[0], maps[0])
    with pytest.raises(DefectbookError, match="0 and 1"):
        aupro(masks * 255, maps)
    bad = maps.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(DefectbookError, match="NaN"):
        aupro(masks, bad)
    for limit in (0.0, -0.1, 1.5):
        with pytest.raises(DefectbookError, match="fpr_limit"):
            aupro(masks, maps, fpr_limit=limit)


# ------------------------------------------------------------------------------------------
# AUPRO: hand-computed cases
# ------------------------------------------------------------------------------------------
def hand_case():
    """Two 4x4 images.  Image 0: region A = {(0,0),(0,1)} (size 2) and region B = the 2x2 block at
    the bottom right (size 4), 10 negatives; image 1 defect-free, 16 negatives -> 26 negatives."""
    masks = np.zeros((2, 4, 4), np.uint8)
    masks[0, 0, 0:2] = 1
    masks[0, 2:4, 2:4] = 1
    maps = np.zeros((2, 4, 4), np.float32)
    maps[0, 0, 0], maps[0, 0, 1] = 0.9, 0.5  # A
    maps[0, 2, 2], maps[0, 2, 3], maps[0, 3, 2], maps[0, 3, 3] = 0.8, 0.8, 0.3, 0.1  # B
    maps[0, 1, 1] = 0.7  # negative
    maps[1, 0, 0], maps[1, 1, 0] = 0.6, 0.5  # negatives, 0.5 tied with a pixel of A
    return masks, maps


def test_pro_curve_hand_case():
    # t:    0.9       0.8      0.7        0.6        0.5          0.3           0.1       0.0
    # PRO: (.5+0)/2  (.5+.5)/2  .5        .5     (1+.5)/2=.75  (1+.75)/2    1          1
    # FP:   0         0         1          2          3             3          3          26
    masks, maps = hand_case()
    fpr, pro = pro_curve(masks, maps)
    np.testing.assert_allclose(fpr, [0, 0, 0, 1 / 26, 2 / 26, 3 / 26, 3 / 26, 3 / 26, 1], atol=1e-15)
    np.testing.assert_allclose(pro, [0, 0.25, 0.5, 0.5, 0.5, 0.75, 0.875, 1, 1], atol=1e-15)


def test_aupro_hand_case():
    masks, maps = hand_case()
    # limit 0.3: 0.5*(2/26) + 0.625*(1/26) + 1*(0.3 - 3/26) = 0.3 - 1.375/26; / 0.3
    assert aupro(masks, maps) == pytest.approx(1 - 1.375 / 7.8, abs=1e-12)
    # limit 2.5/26 falls inside the segment (2/26, .5)-(3/26, .75): PRO interpolated to 0.625;
    # area = 1/26 + (0.5 + 0.625)/2 * 0.5/26 = 1.28125/26; / (2.5/26) = 0.5125
    assert aupro(masks, maps, fpr_limit=2.5 / 26) == pytest.approx(0.5125, abs=1e-12)
    # limit on a curve point: area 1/26 over 2/26
    assert aupro(masks, maps, fpr_limit=2 / 26) == pytest.approx(0.5, abs=1e-12)
    # limit 1: 1/26 + 0.625/26 + (1 - 3/26) = 1 - 1.375/26
    assert aupro(masks, maps, fpr_limit=1.0) == pytest.approx(1 - 1.375 / 26, abs=1e-12)


def test_pro_averages_per_region_not_per_pixel():
    masks = np.zeros((1, 8, 8), np.uint8)
    masks[0, 0, 0] = 1  # region of 1 pixel
    masks[0, 4:7, 4:7] = 1  # region of 9 pixels
    maps = np.zeros((1, 8, 8), np.float32)
    maps[0, 0, 0] = 1.0  # only the small region is found above every negative
    fpr, pro = pro_curve(masks, maps)
    assert fpr[1] == 0.0 and pro[1] == pytest.approx(0.5)  # per pixel it would be 0.1
    # curve (0,0) (0,.5) (1,1): PRO(0.3) = 0.65, area = 0.3 * (0.5 + 0.65) / 2, / 0.3 = 0.575
    assert aupro(masks, maps) == pytest.approx(0.575, abs=1e-12)


def test_diagonal_pixels_form_one_region():
    # image 0: diagonal pair (0,0),(1,1) -> ONE region of size 2 with 8-connectivity;
    # image 1: one pixel at (2,2).  Only (0,0) found: PRO = (1/2 + 0) / 2 = 0.25
    # (with 4-connectivity there would be 3 regions and PRO = 1/3).
    masks = np.zeros((2, 4, 4), np.uint8)
    masks[0, 0, 0] = masks[0, 1, 1] = 1
    masks[1, 2, 2] = 1
    maps = np.zeros((2, 4, 4), np.float32)
    maps[0, 0, 0] = 1.0
    fpr, pro = pro_curve(masks, maps)
    assert pro[1] == pytest.approx(0.25, abs=1e-15)


def test_regions_do_not_span_images():
    # same pixel position in two images are two regions: image 0 region of 2, image 1 region of 1.
    masks = np.zeros((2, 4, 4), np.uint8)
    masks[0, 0, 0:2] = 1
    masks[1, 0, 0] = 1
    maps = np.zeros((2, 4, 4), np.float32)
    maps[1, 0, 0] = 1.0
    _, pro = pro_curve(masks, maps)
    assert pro[1] == pytest.approx(0.5, abs=1e-15)  # (0 + 1) / 2, not 1/3


def test_aupro_perfect_inverted_constant():
    masks, _ = random_case(4)
    assert aupro(masks, masks.astype(np.float32)) == pytest.approx(1.0, abs=1e-12)
    assert aupro(masks, 1.0 - masks.astype(np.float32)) == pytest.approx(0.0, abs=1e-12)
    # constant map: one threshold, curve (0,0)-(1,1): area 0.3^2/2 over 0.3 = 0.15 (ties grouped)
    assert aupro(masks, np.full(masks.shape, 0.2, np.float32)) == pytest.approx(0.15, abs=1e-12)


# ------------------------------------------------------------------------------------------
# AUPRO against the brute-force reference
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("quantize", [None, 0.05])
def test_pro_curve_exact_against_brute_force_all_thresholds(quantize):
    masks, maps = random_case(5, n=4, h=16, w=16, n_good=1, quantize=quantize)
    thresholds = np.unique(maps)
    fpr, pro = pro_curve(masks, maps)
    bf_fpr, bf_pro = brute_pro_curve(masks, maps, thresholds)
    assert len(fpr) == len(thresholds) + 1
    np.testing.assert_allclose(fpr, bf_fpr, atol=1e-12)
    np.testing.assert_allclose(pro, bf_pro, atol=1e-9)
    for limit in (0.3, 0.05, 1.0):
        expected = brute_aupro(masks, maps, thresholds, limit)
        assert aupro(masks, maps, fpr_limit=limit) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", [6, 7, 8])
def test_aupro_against_brute_force_200_thresholds(seed):
    masks, maps = random_case(seed)
    uniq = np.unique(maps)
    thresholds = uniq[np.linspace(0, len(uniq) - 1, 200).round().astype(int)]
    expected = brute_aupro(masks, maps, thresholds)
    got = aupro(masks, maps)
    assert 0.05 < got < 0.95  # a non-trivial case
    assert got == pytest.approx(expected, abs=1e-3)


def test_inputs_as_torch_tensors_and_float64():
    torch = pytest.importorskip("torch")
    masks, maps = random_case(9, n=3, h=16, w=16, n_good=1)
    ref = aupro(masks, maps)
    assert aupro(torch.from_numpy(masks).bool(), torch.from_numpy(maps)) == pytest.approx(ref, abs=1e-12)
    assert aupro(masks.astype(bool), maps.astype(np.float64)) == pytest.approx(ref, abs=1e-12)
    assert pixel_auroc(torch.from_numpy(masks), torch.from_numpy(maps)) == pytest.approx(
        pixel_auroc(masks, maps), abs=1e-12
    )


# ------------------------------------------------------------------------------------------
# evaluate
# ------------------------------------------------------------------------------------------
def test_evaluate_with_pixel_metrics():
    masks, maps = random_case(10)
    labels = masks.reshape(len(masks), -1).any(1).astype(int)
    scores = maps.reshape(len(maps), -1).max(1)
    out = evaluate(labels, scores, masks, maps)
    json.dumps(out)
    assert out["image_auroc"] == image_auroc(labels, scores)
    assert out["image_f1_max"] == f1_max(labels, scores)
    assert out["pixel_auroc"] == pixel_auroc(masks, maps)
    assert out["aupro"] == aupro(masks, maps)
    assert out["pixel_metrics"] == "available"
    for key in ("image_auroc", "image_f1_max", "pixel_auroc", "aupro"):
        assert type(out[key]) is float


@pytest.mark.parametrize("which", ["none", "no_maps", "empty_masks"])
def test_evaluate_pixel_metrics_unavailable(which):
    masks, maps = random_case(11)
    labels, scores = [0, 0, 1, 1, 1, 1], [0.1, 0.3, 0.2, 0.9, 0.8, 0.7]
    if which == "none":
        out = evaluate(labels, scores)
    elif which == "no_maps":
        out = evaluate(labels, scores, masks=masks)
    else:
        out = evaluate(labels, scores, masks=np.zeros_like(masks), maps=maps)
    json.dumps(out)
    assert out["pixel_auroc"] is None and out["aupro"] is None
    assert out["pixel_metrics"].startswith("unavailable: ")
    assert out["image_auroc"] == pytest.approx(7 / 8)


def test_evaluate_errors():
    masks, maps = random_case(12)
    with pytest.raises(DefectbookError, match="N = 5"):
        evaluate([0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.5], masks, maps)
    with pytest.raises(DefectbookError, match="differs"):
        evaluate([0, 0, 1, 1, 1, 1], [0.1] * 2 + [0.9] * 4, masks, maps[:, 1:])


def test_auroc_difference_interval_brackets_the_difference_and_detects_a_real_gap():
    from defectbook.evaluation.metrics import auroc_difference

    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(100), np.ones(100)]
    good = labels * 2.0 + rng.normal(size=200)      # separates well
    weak = labels * 0.2 + rng.normal(size=200)      # barely
    d = auroc_difference(labels, good, weak, n_boot=300)
    assert d["low"] <= d["difference"] <= d["high"]
    assert d["low"] > 0                                # the gap is real
    same = auroc_difference(labels, good, good + 1e-9 * rng.normal(size=200), n_boot=300)
    assert same["low"] <= 0 <= same["high"]
    with pytest.raises(DefectbookError):
        auroc_difference(labels, good, weak[:10])


def test_auroc_interval_narrows_with_more_test_images():
    from defectbook.evaluation.metrics import auroc_interval

    rng = np.random.default_rng(1)

    def width(n):
        labels = np.r_[np.zeros(n), np.ones(n)]
        r = auroc_interval(labels, labels + rng.normal(size=2 * n), n_boot=300)
        assert r["low"] <= r["auroc"] <= r["high"]
        return r["high"] - r["low"]

    assert width(400) < width(25)


def test_bootstrap_aurocs_equal_roc_auc_score_on_every_resample():
    """The vectorised bootstrap (count-weighted Mann-Whitney) gives, resample by resample, what
    scikit-learn's ``roc_auc_score`` gives on the resampled lists, ties included."""
    from sklearn.metrics import roc_auc_score

    from defectbook.evaluation.metrics import _boot_aurocs, _class_bootstrap

    rng = np.random.default_rng(3)
    labels = rng.permutation(np.r_[np.zeros(37), np.ones(23)]).astype(int)
    a = labels + rng.normal(size=60)
    b = np.round(0.5 * labels + rng.normal(size=60), 1)          # many ties
    got = _boot_aurocs(labels, [a, b], n_boot=300, seed=5, chunk=7)   # chunks that do not divide n_boot
    want = np.array([[roc_auc_score(labels[i], s[i]) for i in _class_bootstrap(labels, 300, 5)] for s in (a, b)])
    np.testing.assert_allclose(got, want, atol=1e-12)
