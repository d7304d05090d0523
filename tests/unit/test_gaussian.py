import numpy as np
import torch

from defectbook.components.features import concat_layers, gaussian_blur, select_channels, to_image_maps
from defectbook.components.gaussian import PixelGaussians


def test_pixel_gaussians_match_numpy():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 5, 7, generator=g, dtype=torch.float64).float()
    model = PixelGaussians(eps=0.01, chunk=3).fit(x)
    q = torch.randn(4, 5, 7, generator=g)
    d = model.score(q).numpy()
    for p in range(7):
        xs = x[:, :, p].double().numpy()
        mu = xs.mean(0)
        cov = np.cov(xs, rowvar=False) + 0.01 * np.eye(5)
        inv = np.linalg.inv(cov)
        for b in range(4):
            diff = q[b, :, p].double().numpy() - mu
            assert abs(d[b, p] - np.sqrt(diff @ inv @ diff)) < 1e-3


def test_training_mean_scores_zero():
    x = torch.randn(20, 3, 4)
    model = PixelGaussians().fit(x)
    assert torch.allclose(model.score(x.mean(0, keepdim=True)), torch.zeros(1, 4), atol=1e-3)


def test_concat_layers_upsamples_to_largest():
    out = concat_layers([torch.rand(2, 3, 8, 8), torch.rand(2, 5, 4, 4)])
    assert out.shape == (2, 8, 8, 8)
    assert torch.equal(out[:, 3:, ::2, ::2], out[:, 3:, 1::2, 1::2])  # nearest neighbour


def test_select_channels_is_seeded_subset():
    a, b = select_channels(100, 10, seed=1), select_channels(100, 10, seed=1)
    assert torch.equal(a, b) and len(set(a.tolist())) == 10
    assert not torch.equal(a, select_channels(100, 10, seed=2))
    assert select_channels(100, None) is None and select_channels(10, 10) is None


def test_blur_preserves_mass_and_spreads_peak():
    m = torch.zeros(1, 33, 33)
    m[0, 16, 16] = 1
    b = gaussian_blur(m, 2.0)
    assert abs(b.sum().item() - 1) < 1e-4
    assert b[0, 16, 16] < 0.1 and b[0, 16, 16] == b.max()
    assert torch.equal(gaussian_blur(m, 0), m)


def test_to_image_maps_shape():
    assert to_image_maps(torch.rand(3, 7, 7), (28, 28), 4).shape == (3, 28, 28)


def test_cholesky_storage_matches_precision_scoring():
    """Stored Cholesky factors score as the explicit inverse covariances do, and ``precision`` is that inverse."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(25, 6, 5, generator=g)
    model = PixelGaussians(eps=0.01, chunk=2).fit(x)
    q = torch.randn(3, 6, 5, generator=g)
    by_chol = model.score(q)
    for p in range(5):
        cov = np.cov(x[:, :, p].double().numpy(), rowvar=False) + 0.01 * np.eye(6)
        assert np.allclose(model.precision[p].numpy(), np.linalg.inv(cov), atol=1e-3, rtol=1e-4)
    other = PixelGaussians(eps=0.01, chunk=2)
    other.mean, other.precision = model.mean, model.precision
    assert torch.allclose(other.score(q), by_chol, atol=1e-4)


def test_concat_layers_channel_subset_equals_slicing_the_concatenation():
    g = torch.Generator().manual_seed(0)
    maps = [torch.rand(2, 3, 8, 8, generator=g), torch.rand(2, 5, 4, 4, generator=g),
            torch.rand(2, 4, 2, 2, generator=g)]
    full = concat_layers(maps)
    for ch in ([0, 4, 9, 11], [3, 4, 5, 6, 7], [11, 0, 5], list(range(12))):
        ch = torch.tensor(ch)
        assert torch.equal(concat_layers(maps, channels=ch), full[:, ch])
