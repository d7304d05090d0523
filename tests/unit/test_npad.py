import numpy as np
import pytest
import torch

from defectbook import DefectbookError
from defectbook.methods import build
from defectbook.methods.npad import select_by_rule, shift_offsets, topk_image_score


def _textures(n, g, size=48):
    x = torch.rand(n, 1, 6, 6, generator=g).repeat(1, 3, 1, 1)
    return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear") * 0.4 + 0.3


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    train, test = _textures(24, g), _textures(6, g)
    test[3:, :, 16:30, 18:32] = 0.95
    return train, test


SMALL = dict(d=16, train_radius=1, infer_radius=1, shift=1, kmeans_iters=3, batch_size=8)


def test_npad_finds_inserted_square(data):
    train, test = data
    det = build("npad", **SMALL).fit(train)
    pred = det.predict(test)
    assert pred.maps.shape == (6, 48, 48)
    assert pred.image_scores[3:].min() > pred.image_scores[:3].max()
    for m in pred.maps[3:]:
        y, x = divmod(int(m.argmax()), 48)
        assert 10 <= y <= 36 and 12 <= x <= 38
    ex = det.extras()
    assert ex["n_shifts"] == 5 and ex["channels"] == 16
    assert ex["n_centroids"] == round(0.1 * 24 * 12 * 12)
    assert 0 < ex["centre_weight_share"] <= 1


def test_npad_switches_change_the_score_and_are_deterministic():
    g = torch.Generator().manual_seed(3)
    train, test = _textures(10, g, 32), _textures(4, g, 32)
    test[2:, :, 10:20, 10:20] = 0.95
    full_det = build("npad", **SMALL).fit(train)
    full = full_det.predict(test)
    again = build("npad", **SMALL).fit(train).predict(test)
    assert (full.image_scores == again.image_scores).all() and (full.maps == again.maps).all()

    # centroids (Eq. 14) touch the image score only: same maps, and the score becomes the plain
    # top-k mean that the full model records as a variant
    no_c = build("npad", **{**SMALL, "use_centroids": False}).fit(train).predict(test)
    assert np.array_equal(no_c.maps, full.maps)
    assert np.allclose(no_c.image_scores, full_det.extras()["score_variants"]["topk_mean"], rtol=1e-5)
    assert not np.allclose(no_c.image_scores, full.image_scores)

    # image shifting (D): the score is the mean of the unshifted model's scores over the 4s + 1 shifted copies
    from defectbook.components.features import shift_images

    no_d_det = build("npad", **{**SMALL, "use_shift": False}).fit(train)
    shifts = shift_offsets(SMALL["shift"])
    per_shift = np.stack([no_d_det.predict(shift_images(test, dy, dx)).image_scores for dy, dx in shifts])
    assert np.allclose(full.image_scores, per_shift.mean(0), rtol=1e-5)
    assert not np.allclose(full.image_scores, per_shift[0])
    # and without its neighbours' help every map value comes from one copy: the maps differ
    assert not np.allclose(no_d_det.predict(test).maps, full.maps)


def test_npad_modules_combine_as_the_paper_says():
    """At feature level: S = sqrt(A * B) (A weighted Gaussians, B aggregated features); the
    neighbour-min (C) can only lower A; uniform weighting gives each neighbour the same weight."""
    g = torch.Generator().manual_seed(4)
    train = _textures(10, g, 32)
    fixed = dict(SMALL, use_shift=False, use_centroids=False)
    both = build("npad", **fixed).fit(train)
    a_only = build("npad", **{**fixed, "use_aggregated": False}).fit(train)
    b_only = build("npad", **{**fixed, "use_weighted": False}).fit(train)
    no_min = build("npad", **{**fixed, "use_aggregated": False, "use_neighbour_min": False}).fit(train)
    h, w = both.shape_
    feats = torch.randn(3, both.c_, h, w, generator=g) * 0.5 + both.mean_b_.T.reshape(1, both.c_, h, w)
    s, _, _ = both._feature_scores(feats)
    a, _, _ = a_only._feature_scores(feats)
    b, _, _ = b_only._feature_scores(feats)
    a_centre, _, _ = no_min._feature_scores(feats)
    assert torch.allclose(s, (a * b).sqrt(), rtol=1e-5)
    assert (a <= a_centre + 1e-5).all() and (a < a_centre - 1e-3).any()
    uni = build("npad", **{**fixed, "weighting": "uniform"}).fit(train)
    for wts in (uni.weights_.T):                                   # one row of K neighbour weights per position
        nz = wts[wts > 0]
        assert torch.allclose(nz, nz[0].expand_as(nz))
    # Bhattacharyya weights are not uniform
    bw = both.weights_.T
    assert any(not torch.allclose(r[r > 0], r[r > 0][0].expand_as(r[r > 0])) for r in bw)


def test_npad_reduces_to_padim_map():
    """One neighbour, uniform weights, no aggregation, no shift, ddof 1: the map is PaDiM's."""
    g = torch.Generator().manual_seed(1)
    train, test = _textures(12, g, 32), _textures(2, g, 32)
    common = dict(d=16, seed=2, sigma=4)
    npad = build("npad", train_radius=0, infer_radius=0, use_aggregated=False, use_shift=False, use_centroids=False,
                 weighting="uniform", ddof=1, channel_rule="random", **common).fit(train)
    padim = build("padim", **common).fit(train)
    a, b = npad.predict(test).maps, padim.predict(test).maps
    assert abs(a - b).max() < 1e-3 * abs(b).max()


def test_channel_rules():
    f = torch.zeros(2, 4, 3, 3)
    f[:, 0] = 1.0                                     # channel 0: always positive
    f[:, 2, :2] = 1.0                                 # channel 2: positive on 2 of 3 rows
    assert select_by_rule(f, 2, "fewest_zeros").tolist() == [0, 2]
    assert select_by_rule(f, 2, "most_zeros").tolist() == [1, 3]
    assert select_by_rule(f, 2, "random", seed=0).numel() == 2
    assert select_by_rule(f, None, "fewest_zeros") is None
    with pytest.raises(DefectbookError, match="channel_rule"):
        select_by_rule(f, 2, "best")


def test_shift_offsets_and_topk_score():
    assert len(shift_offsets(4)) == 17 and len(shift_offsets(2, "grid")) == 25 and shift_offsets(0) == [(0, 0)]
    m = torch.tensor([[4.0, 1.0]])
    e = torch.tensor([[9.0, 1.0]])
    # ranks paired after sorting: sqrt(1*1), sqrt(4*9) -> mean 3.5
    assert torch.allclose(topk_image_score(m, e), torch.tensor([3.5]))
    assert torch.allclose(topk_image_score(m, None), torch.tensor([2.5]))


def test_npad_bad_parameters():
    with pytest.raises(DefectbookError, match="at least one"):
        build("npad", use_weighted=False, use_aggregated=False)
    with pytest.raises(DefectbookError, match="weighting"):
        build("npad", weighting="cosine")
    with pytest.raises(DefectbookError, match="shift_mode"):
        build("npad", shift_mode="diag")
    det = build("npad", **SMALL).fit(_textures(4, torch.Generator().manual_seed(0), 32))
    with pytest.raises(DefectbookError, match="same image size"):
        det.predict(torch.rand(1, 3, 48, 48))


def test_score_variants_are_recorded_beside_the_configured_score(data):
    from defectbook.methods.npad import SCORE_VARIANTS

    train, test = data
    det = build("npad", **SMALL).fit(train)
    pred = det.predict(test)
    var = det.extras()["score_variants"]
    assert set(var) == set(SCORE_VARIANTS)
    assert all(len(v) == len(test) for v in var.values())
    # the largest map value bounds the mean of the top-k from above; map_max reads the final map
    assert all(t1 >= tm - 1e-5 for t1, tm in zip(var["top1_map"], var["topk_mean"]))
    assert np.allclose(var["map_max"], pred.maps.reshape(len(test), -1).max(1), rtol=1e-5)
    # every reading still ranks the inserted squares above the plain textures
    for v in var.values():
        assert min(v[3:]) > max(v[:3])
