"""Protocol transforms and DifferNet's tensor augmentations."""
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from defectbook import DefectbookError
from defectbook.data.transforms import (
    PROTOCOLS,
    color_jitter,
    make_mask_transform,
    make_transform,
    protocol_sizes,
    protocol_transform,
    random_rotation,
    rotate,
)


def test_image_transform_shapes_and_range():
    im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60), dtype=np.uint8))  # grayscale, not square
    x = make_transform(32)(im)
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert torch.equal(x[0], x[1])
    y = make_transform(32, 24)(im)
    assert y.shape == (3, 24, 24) and torch.allclose(y, x[:, 4:28, 4:28])
    assert pickle.loads(pickle.dumps(make_transform(32, 24)))(im).shape == (3, 24, 24)
    with pytest.raises(DefectbookError, match="crop"):
        make_transform(32, 40)


def test_mask_transform_nearest():
    m = np.zeros((40, 40), np.uint8)
    m[10:20, 10:20] = 255
    t = make_mask_transform(20, 16)(Image.fromarray(m))
    assert t.shape == (1, 16, 16) and set(t.unique().tolist()) == {0.0, 1.0}
    assert t.sum() == 25  # 5x5 after halving, all inside the crop


def test_protocols():
    assert PROTOCOLS["padim"] == (256, 224) and PROTOCOLS["differnet"] == (448, None)
    assert protocol_sizes("padim", 0.5) == (128, 112)
    assert protocol_transform("trustmae", 0.25).size == 64
    with pytest.raises(DefectbookError, match="no image protocol"):
        protocol_transform("nope")


def test_rotate():
    x = torch.zeros(2, 3, 9, 9)
    x[:, :, 4, 6] = 1.0  # a dot right of the centre
    assert torch.allclose(rotate(x, 0.0), x, atol=1e-6)
    assert torch.allclose(rotate(x, 360.0), x, atol=1e-5)
    r = rotate(x, 90.0)
    assert r.shape == x.shape
    iy, ix = divmod(int(r[0, 0].argmax()), 9)
    assert (iy, ix) == (2, 4)  # counter-clockwise as displayed: right -> up
    per = rotate(x, torch.tensor([0.0, 180.0]))
    assert torch.allclose(per[0], x[0], atol=1e-6) and divmod(int(per[1, 0].argmax()), 9) == (4, 2)
    with pytest.raises(DefectbookError):
        rotate(x, [1.0, 2.0, 3.0])
    with pytest.raises(DefectbookError, match="batch"):
        rotate(x[0], 10)


def test_random_rotation_and_jitter_seeded():
    x = torch.rand(4, 3, 16, 16)
    a = random_rotation(x, torch.Generator().manual_seed(0))
    b, ang = random_rotation(x, torch.Generator().manual_seed(0), return_angles=True)
    assert torch.equal(a, b) and ang.shape == (4,) and ((0 <= ang) & (ang < 360)).all()
    j = color_jitter(x, 0.15, 0.15, torch.Generator().manual_seed(1))
    assert j.shape == x.shape and 0 <= j.min() and j.max() <= 1
    assert torch.equal(j, color_jitter(x, 0.15, 0.15, torch.Generator().manual_seed(1)))
    # brightness only: each image scaled by one factor in [0.85, 1.15]
    g = torch.full((3, 3, 4, 4), 0.5)
    k = color_jitter(g, 0.15, 0.0, torch.Generator().manual_seed(2))
    f = k[:, 0, 0, 0] / 0.5
    assert ((f >= 0.85 - 1e-6) & (f <= 1.15 + 1e-6)).all() and torch.allclose(k, f.view(3, 1, 1, 1).expand_as(k) * 0.5)
    with pytest.raises(DefectbookError, match="brightness"):
        color_jitter(x, 1.5, 0.1)
