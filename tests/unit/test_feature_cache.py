"""The within-build backbone-feature cache (defectbook.components.features.FeatureCache)."""
import pytest
import torch

from defectbook.components.backbones import FeatureExtractor
from defectbook.components.features import extract
from defectbook.methods import build


@pytest.fixture
def cache(feature_cache):
    return feature_cache


def _images(n=5, size=32, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_hit_returns_the_backbone_outputs_exactly(cache):
    fe = FeatureExtractor("efficientnet_lite0", ["layer1", "layer2"], "random")
    x = _images()
    first = extract(fe, x, batch_size=2)
    assert cache.misses == 1 and cache.hits == 0
    again = extract(fe, x, batch_size=2)
    assert cache.hits == 1 and torch.equal(first, again)
    # across processes: the files alone (the in-memory level emptied)
    cache.clear()
    assert torch.equal(extract(fe, x, batch_size=2), first) and cache.hits == 2
    assert len(list(cache.folder().glob("*.pt"))) == 2                       # one file per layer


def test_key_changes_with_images_layers_weights_and_batch(cache):
    fe = FeatureExtractor("efficientnet_lite0", ["layer1", "layer2"], "random")
    x = _images()
    k = cache.key(fe, x, 2)
    assert k == cache.key(fe, x.clone(), 2)
    y = x.clone()
    y[0, 0, 0, 0] += 1e-3                                                   # another transform / data
    assert set(cache.key(fe, y, 2)).isdisjoint(k)
    assert set(cache.key(fe, _images(size=40), 2)).isdisjoint(k)            # another image size
    assert set(cache.key(fe, x, 4)).isdisjoint(k)                           # another batch size
    other = FeatureExtractor("efficientnet_lite0", ["layer1", "layer2"], "random")
    with torch.no_grad():
        next(other.model.parameters()).add_(0.01)                          # other weights
    assert set(cache.key(other, x, 2)).isdisjoint(k)
    # a layer shared with another layer set is the same entry (PatchCore reuses PaDiM's layer2)
    sub = FeatureExtractor("efficientnet_lite0", ["layer2", "layer3"], "random")
    sub.model.load_state_dict(fe.model.state_dict())
    sub_keys = cache.key(sub, x, 2)
    assert sub_keys[0] == k[1] and sub_keys[1] not in k


def test_layer_subset_reuses_entries_and_matches(cache):
    fe = FeatureExtractor("efficientnet_lite0", ["layer1", "layer2", "layer3"], "random")
    sub = FeatureExtractor("efficientnet_lite0", ["layer2", "layer3"], "random")
    sub.model.load_state_dict(fe.model.state_dict())
    x = _images(4)
    extract(fe, x, batch_size=4)
    hit = extract(sub, x, batch_size=4, post=lambda m: m[0])
    assert cache.hits == 1
    cache.clear(disk=True)
    assert torch.equal(hit, extract(sub, x, batch_size=4, post=lambda m: m[0]))


def test_disabled_by_environment(cache, monkeypatch):
    monkeypatch.setenv("DEFECTBOOK_FEATURE_CACHE", "0")
    fe = FeatureExtractor("efficientnet_lite0", ["layer1"], "random")
    assert cache.key(fe, _images(), 2) is None
    extract(fe, _images(), batch_size=2)
    assert cache.hits == cache.misses == 0 and not cache.folder().exists()


def test_methods_score_the_same_with_a_warm_cache(cache, monkeypatch):
    train, test = _images(6, 48, 1), _images(3, 48, 2)
    params = dict(weights="random", d=8, batch_size=4)

    def run():
        torch.manual_seed(0)                           # the same random backbone every time
        return build("padim", **params).fit(train).predict(test).image_scores

    cold = run()
    assert cache.misses == 2 and cache.hits == 0
    warm = run()
    assert cache.hits == 2
    monkeypatch.setenv("DEFECTBOOK_FEATURE_CACHE", "0")
    off = run()
    assert (cold == warm).all() and (cold == off).all()
