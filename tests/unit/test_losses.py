import pytest
import torch

from defectbook import DefectbookError
from defectbook.components.losses import feature_matching, hinge_d_loss, hinge_g_loss, ssim_loss, ssim_map


def test_ssim_identical_is_one_and_noise_lowers_it_locally():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g)
    assert torch.allclose(ssim_map(x, x), torch.ones(2, 32, 32), atol=1e-4)
    assert ssim_loss(x, x).abs() < 1e-4
    y = x.clone()
    y[:, :, 8:16, 8:16] = torch.rand(2, 3, 8, 8, generator=g)
    m = ssim_map(x, y)
    assert m.shape == (2, 32, 32)
    assert m[:, 10:14, 10:14].mean() < 0.5 < m[:, 26:, 26:].mean()
    assert torch.allclose(ssim_map(x, y), ssim_map(y, x), atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 3, 20, 24), (1, 1, 9, 7), (1, 2, 4, 5)])
def test_ssim_map_equals_the_two_dimensional_window_everywhere(shape):
    """The separable passes against the plain 11 x 11 window, over the whole map: borders (reflect padding, or
    replicate where the image is smaller than the window's reach) included."""
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(shape, generator=g, dtype=torch.float64), torch.rand(shape, generator=g, dtype=torch.float64)
    t = torch.arange(11, dtype=torch.float64) - 5
    w1 = torch.exp(-t ** 2 / (2 * 1.5 ** 2))
    w = (w1[:, None] * w1[None, :] / w1.sum() ** 2).expand(shape[1], 1, 11, 11)
    mode = "reflect" if min(shape[-2:]) > 5 else "replicate"
    xp, yp = F.pad(x, [5] * 4, mode=mode), F.pad(y, [5] * 4, mode=mode)
    mean = lambda a: F.conv2d(a, w, groups=shape[1])                        # noqa: E731
    mx, my = mean(xp), mean(yp)
    sxx, syy, sxy = mean(xp * xp) - mx ** 2, mean(yp * yp) - my ** 2, mean(xp * yp) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    ref = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (sxx + syy + c2))
    assert torch.allclose(ssim_map(x, y), ref.mean(1), atol=1e-12)
    assert not torch.allclose(ssim_map(x, y, window=9), ref.mean(1), atol=1e-6)


def test_ssim_rejects_mismatched_shapes():
    with pytest.raises(DefectbookError):
        ssim_map(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))


def test_hinge_losses():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    # relu(1-2)=0, relu(1-0.5)=0.5 -> 0.25 ; relu(1-2)=0, relu(1+0)=1 -> 0.5
    assert hinge_d_loss(real, fake).item() == pytest.approx(0.75)
    assert hinge_g_loss(fake).item() == pytest.approx(1.0)


def test_feature_matching_weights_and_detach():
    a = [torch.ones(1, 2, 2, 2), torch.zeros(1, 1, 2, 2)]
    b = [torch.zeros(1, 2, 2, 2, requires_grad=True), torch.full((1, 1, 2, 2), 2.0, requires_grad=True)]
    loss = feature_matching(a, b, [0.5, 1.0])
    assert loss.item() == pytest.approx(0.5 * 1 + 1.0 * 2)
    loss.backward()
    assert b[0].grad is not None
    with pytest.raises(DefectbookError):
        feature_matching(a, b[:1])
