import numpy as np
import pytest
import torch

from defectbook import DefectbookError
from defectbook.methods import build
from defectbook.methods.differnet import MultiTransformFeatures, random_transforms, rotation_angles

SMALL = dict(layer="layer3", scales=[1.0, 0.5], n_blocks=2, width=32, hidden_layers=2, batch_size=8,
             feature_batch=8, train_bank=2)


pytestmark = pytest.mark.usefixtures("one_thread")


def _textures(n, g, size=64):
    x = torch.rand(n, 1, 8, 8, generator=g).repeat(1, 3, 1, 1)
    return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear") * 0.2 + 0.4


def test_rotation_angles_and_random_transforms():
    assert rotation_angles(1) == [0.0]
    assert rotation_angles(4) == [0.0, 90.0, 180.0, 270.0]
    assert len(rotation_angles(64)) == 64
    with pytest.raises(DefectbookError):
        rotation_angles(0)
    a, b = random_transforms(5, 3, seed=1, jitter=0.15), random_transforms(5, 3, seed=1, jitter=0.15)
    assert all(torch.equal(x["angle"], y["angle"]) for x, y in zip(a, b))
    assert not torch.equal(a[0]["angle"], a[1]["angle"])
    for t in a:
        assert ((t["angle"] >= 0) & (t["angle"] < 360)).all()
        assert ((t["brightness"] >= 0.85) & (t["brightness"] <= 1.15)).all()


def test_features_shape_memo_and_scales():
    g = torch.Generator().manual_seed(0)
    x = _textures(3, g, 32)
    f = MultiTransformFeatures("efficientnet_lite0", "layer3", scales=[1.0, 0.5], batch_size=2)
    assert f.dim == 2 * 112
    y = f.transformed(x, [{"angle": 0.0}, {"angle": 90.0}])
    assert y.shape == (3, 2, 224)
    assert torch.equal(y, f.transformed(x, [{"angle": 0.0}, {"angle": 90.0}]))   # memo gives the same
    assert torch.allclose(y[:, 0], f(x), atol=1e-5)
    # a 90-degree rotation changes the features (they are not rotation invariant by construction)
    assert (y[:, 0] - y[:, 1]).abs().max() > 1e-3
    with pytest.raises(DefectbookError, match="too small"):
        MultiTransformFeatures("efficientnet_lite0", "layer3", scales=[0.25])(x)
    with pytest.raises(DefectbookError, match="scales"):
        MultiTransformFeatures(scales=[])


def test_features_of_several_layers_are_each_layers_pooled_features_side_by_side():
    g = torch.Generator().manual_seed(5)
    x = _textures(2, g, 32)
    both = MultiTransformFeatures("efficientnet_lite0", ["layer2", "layer3"], scales=[1.0, 0.5], batch_size=2)
    assert both.dim == 2 * (40 + 112) and "layer2+layer3" in both.describe()
    y = both(x)
    l2 = MultiTransformFeatures("efficientnet_lite0", "layer2", scales=[1.0, 0.5], batch_size=2)(x)
    l3 = MultiTransformFeatures("efficientnet_lite0", "layer3", scales=[1.0, 0.5], batch_size=2)(x)
    # per scale: layer2's 40 pooled channels, then layer3's 112
    torch.testing.assert_close(y, torch.cat([l2[:, :40], l3[:, :112], l2[:, 40:], l3[:, 112:]], 1))
    with pytest.raises(DefectbookError, match="layer"):
        MultiTransformFeatures("efficientnet_lite0", [])


def test_differnet_fit_predict_deterministic_with_snapshots():
    g = torch.Generator().manual_seed(0)
    train, test = _textures(12, g, 48), _textures(4, g, 48)
    a = build("differnet", epochs=4, test_transforms=2, snapshots=2, **SMALL).fit(train)
    pa = a.predict(test)
    b = build("differnet", epochs=4, test_transforms=2, snapshots=2, **SMALL).fit(train)
    assert pa.maps is None and pa.image_scores.shape == (4,) and np.isfinite(pa.image_scores).all()
    np.testing.assert_allclose(pa.image_scores, b.predict(test).image_scores, rtol=1e-5)
    ex = a.extras()
    assert len(ex["loss"]) == 4 and ex["snapshot_epochs"] == [2, 4]
    # the last snapshot is the final flow: its scores are the prediction's
    np.testing.assert_allclose(ex["snapshot_scores"][-1], pa.image_scores, rtol=1e-5)
    assert ex["feature_dim"] == 224 and ex["flow_parameters"] > 0


def test_differnet_training_lowers_the_loss_and_separates_a_defect():
    g = torch.Generator().manual_seed(1)
    train, test = _textures(24, g, 48), _textures(8, g, 48)
    test[4:, :, 8:24, 10:26] = 0.95
    det = build("differnet", epochs=30, lr=1e-3, test_transforms=4, **SMALL).fit(train)
    loss = det.extras()["loss"]
    assert loss[-1] < loss[0] - 0.2
    s = det.predict(test).image_scores
    assert s[4:].min() > s[:4].max()


def test_gradient_map_points_at_inserted_defect():
    # AlexNet (the paper's backbone; random weights, so no download): ReLU + max-pooling route the
    # gradient to the defect. (The default lite0 backbone localizes much worse: see the book.)
    g = torch.Generator().manual_seed(2)
    train, test = _textures(16, g, 64), _textures(2, g, 64)
    test[:, :, 8:22, 10:24] = 0.95                      # off-centre: a wrong rotate-back misses it
    det = build("differnet", backbone="alexnet", weights="random", layer="relu5", scales=[1.0], epochs=20,
                lr=1e-3, n_blocks=2, width=32, hidden_layers=2, batch_size=8, feature_batch=8, train_bank=2,
                test_transforms=1, localize=True, localize_transforms=4, sigma=2.0).fit(train)
    maps = det.predict(test).maps
    assert maps.shape == (2, 64, 64) and (maps >= 0).all()
    inside = np.zeros((64, 64), bool)
    inside[4:26, 6:28] = True
    for m in maps:
        y, x = divmod(int(m.argmax()), 64)
        assert inside[y, x]
        assert m[inside].mean() > 1.3 * m.mean()


def test_untransformed_training_and_errors():
    g = torch.Generator().manual_seed(3)
    train = _textures(6, g, 32)
    det = build("differnet", epochs=1, train_transforms=False, test_transforms=1, **SMALL).fit(train)
    assert det.predict(train[:2]).image_scores.shape == (2,)
    with pytest.raises(DefectbookError, match="fit"):
        build("differnet").predict(train)
    with pytest.raises(DefectbookError, match="jitter"):
        build("differnet", jitter=1.5)
    with pytest.raises(DefectbookError, match="train_bank"):
        build("differnet", train_bank=0)
    with pytest.raises(DefectbookError, match="test transforms"):
        build("differnet", test_transforms=0)


def test_features_kept_in_the_builds_feature_cache(tmp_path, monkeypatch):
    from defectbook.components.features import FEATURES, make_payload

    monkeypatch.setenv("DEFECTBOOK_CACHE", str(tmp_path))
    monkeypatch.setenv("DEFECTBOOK_FEATURE_CACHE", "1")
    FEATURES.clear()
    g = torch.Generator().manual_seed(4)
    x = _textures(2, g, 32)
    f = MultiTransformFeatures("efficientnet_lite0", "layer3", scales=[1.0], batch_size=2)
    y = f.transformed(x, [{"angle": 45.0}])
    files = list((tmp_path / "features").glob("*.pt"))
    assert len(files) == 1, "one file in the cache folder shared with the feature methods"
    FEATURES.clear()                          # memory level emptied: the next call reads the file
    torch.save(make_payload(files[0].stem, y * 0 + 7), files[0])   # a well-formed entry: it is used
    assert torch.equal(f.transformed(x, [{"angle": 45.0}]), torch.full_like(y, 7.0))
    FEATURES.clear()
    monkeypatch.setenv("DEFECTBOOK_FEATURE_CACHE", "0")
    assert torch.equal(f.transformed(x, [{"angle": 45.0}]), y), "cache off: computed again"
