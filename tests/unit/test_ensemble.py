import numpy as np
import pytest
import torch

from defectbook import DefectbookError
from defectbook.methods import build
from defectbook.methods.ensemble import resize_images


def _textures(n, g, size):
    x = torch.rand(n, 1, 6, 6, generator=g).repeat(1, 3, 1, 1)
    return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear") * 0.4 + 0.3


PADIM = dict(d=16, batch_size=8)


def test_one_member_at_the_input_size_is_the_member_itself():
    g = torch.Generator().manual_seed(0)
    train, test = _textures(10, g, 48), _textures(3, g, 48)
    ens = build("ensemble", method="padim", sizes=[None], **PADIM).fit(train).predict(test)
    one = build("padim", **PADIM).fit(train).predict(test)
    assert np.allclose(ens.image_scores, one.image_scores) and np.allclose(ens.maps, one.maps)


def test_members_are_averaged_at_the_input_size():
    g = torch.Generator().manual_seed(1)
    train, test = _textures(10, g, 64), _textures(4, g, 64)
    test[2:, :, 20:36, 24:40] = 0.95
    det = build("ensemble", method="padim", sizes=[32, 64], **PADIM).fit(train)
    pred = det.predict(test)
    small = build("padim", **PADIM).fit(resize_images(train, 32)).predict(resize_images(test, 32))
    large = build("padim", **PADIM).fit(train).predict(test)
    assert pred.maps.shape == (4, 64, 64)
    assert np.allclose(pred.image_scores, (small.image_scores + large.image_scores) / 2, rtol=1e-5)
    assert min(pred.image_scores[2:]) > max(pred.image_scores[:2])
    assert det.extras()["sizes"] == [32, 64] and len(det.extras()["members"]) == 2


def test_resize_keeps_the_range_and_rejects_nothing_silently():
    x = torch.rand(2, 3, 40, 40)
    assert resize_images(x, 20).shape == (2, 3, 20, 20) and resize_images(x, None) is x
    assert 0 <= float(resize_images(x, 60).min()) and float(resize_images(x, 60).max()) <= 1
    with pytest.raises(DefectbookError):
        build("ensemble", sizes=[])
