import pytest
import torch

from defectbook import DefectbookError
from defectbook.methods import build


def _textures(n, g):
    x = torch.rand(n, 1, 8, 8, generator=g).repeat(1, 3, 1, 1)
    return torch.nn.functional.interpolate(x, size=(64, 64), mode="bilinear") * 0.4 + 0.3


def test_padim_finds_inserted_square():
    g = torch.Generator().manual_seed(0)
    train, test = _textures(24, g), _textures(8, g)
    test[4:, :, 20:36, 24:40] = 0.95
    det = build("padim", d=32, batch_size=8).fit(train)
    pred = det.predict(test)
    assert pred.maps.shape == (8, 64, 64)
    assert pred.image_scores[4:].min() > pred.image_scores[:4].max()
    # the map peaks inside the square
    for m in pred.maps[4:]:
        y, x = divmod(int(m.argmax()), 64)
        assert 14 <= y <= 42 and 18 <= x <= 46


def test_padim_is_deterministic_and_channel_count():
    g = torch.Generator().manual_seed(1)
    train, test = _textures(10, g), _textures(3, g)
    a = build("padim", d=16, seed=3).fit(train)
    b = build("padim", d=16, seed=3).fit(train)
    assert a.gaussians_.mean.shape[1] == 16
    assert (a.predict(test).image_scores == b.predict(test).image_scores).all()


def test_predict_before_fit_and_bad_input():
    det = build("padim")
    with pytest.raises(DefectbookError, match="fit"):
        det.predict(torch.rand(1, 3, 32, 32))
    with pytest.raises(DefectbookError, match=r"\[N, 3, H, W\]"):
        det.fit(torch.rand(2, 1, 32, 32))
    with pytest.raises(DefectbookError, match="unknown method"):
        build("nosuchmethod")
