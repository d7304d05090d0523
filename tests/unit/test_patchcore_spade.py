import pytest
import torch

from defectbook import DefectbookError
from defectbook.methods import build
from defectbook.methods.patchcore import patch_features, reweighted_score


def _textures(n, g, size=48):
    x = torch.rand(n, 1, 6, 6, generator=g).repeat(1, 3, 1, 1)
    return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear") * 0.4 + 0.3


def _data(size=48):
    g = torch.Generator().manual_seed(0)
    train, test = _textures(20, g, size), _textures(6, g, size)
    o = size // 3
    test[3:, :, o:2 * o, o:2 * o] = 0.95
    return train, test


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.mark.parametrize("name,params,size", [("patchcore", {"coreset_ratio": 0.25}, 64),
                                              ("spade", {"k_images": 5}, 48)])
def test_finds_inserted_square(name, params, size):
    train, test = _data(size)
    pred = build(name, **params).fit(train).predict(test)
    assert pred.maps.shape == (6, size, size)
    assert pred.image_scores[3:].min() > pred.image_scores[:3].max()
    o = size // 3
    for m in pred.maps[3:]:
        y, x = divmod(int(m.argmax()), size)
        assert o - 6 <= y <= 2 * o + 6 and o - 6 <= x <= 2 * o + 6


def test_patchcore_full_coreset_scores_training_images_zero(data):
    train, _ = data
    det = build("patchcore", coreset_ratio=1.0, num_neighbors=0, sigma=0).fit(train[:6])
    assert det.memory_.shape[0] == det.n_patches_
    pred = det.predict(train[:2])
    # distances to itself: zero up to float32 round-off of |a|^2 + |b|^2 - 2ab
    assert abs(pred.maps).max() < 0.1 and abs(pred.image_scores).max() < 0.1
    assert (
        build("patchcore", coreset_ratio=1.0, num_neighbors=0).fit(train[:6]).predict(train[10:12]).image_scores.min()
        > 1
    )
    small = build("patchcore", coreset_ratio=0.1).fit(train[:6])
    assert small.memory_.shape[0] == round(0.1 * small.n_patches_)


def test_patch_features_shapes_and_reduction():
    maps = [torch.randn(2, 8, 8, 8), torch.randn(2, 16, 4, 4)]
    assert patch_features(maps, 3, None).shape == (2, 24, 8, 8)
    assert patch_features(maps, 3, 12).shape == (2, 12, 8, 8)
    # patch size 1 and no reduction keeps the first layer as it is
    assert torch.equal(patch_features(maps, 1, None)[:, :8], maps[0])


def test_reweighting_is_eq7_computed_directly():
    """PatchCore Eq. 7: s = (1 - exp||m_test - m*|| / sum_{m in N_b(m*)} exp||m_test - m||) s*,
    with N_b(m*) the b nearest memory vectors of m* (m* itself included), computed here by hand."""
    import math

    mem = torch.randn(30, 4, generator=torch.Generator().manual_seed(0))
    t = mem[3] + 0.5
    dist = [(t - m).norm().item() for m in mem]
    star = min(range(len(mem)), key=dist.__getitem__)
    s = torch.tensor(dist[star])
    for b in (1, 3, 5):
        nb = sorted(range(len(mem)), key=lambda j: (mem[j] - mem[star]).norm().item())[:b]
        expect = (1 - math.exp(dist[star]) / sum(math.exp(dist[j]) for j in nb)) * dist[star]
        got = reweighted_score(t, mem, star, s, b=b)
        assert float(got) == pytest.approx(expect, rel=1e-5, abs=1e-6), b
    assert float(reweighted_score(t, mem, star, s, b=1)) == pytest.approx(0.0, abs=1e-6)   # N_1 = {m*}
    assert reweighted_score(t, mem, star, s, b=0) == s


def test_spade_uses_k_nearest_images(data):
    train, test = data
    one = build("spade", k_images=1).fit(train).predict(train[:2])
    # a training image is its own nearest
    assert abs(one.image_scores).max() < 0.05 < (
        build("spade", k_images=1).fit(train[2:]).predict(train[:2]).image_scores.min())
    with pytest.raises(DefectbookError):
        build("patchcore", coreset_ratio=0)
