"""Hand-written parts checked against the libraries the field uses.

* :func:`defectbook.components.losses.ssim_map` against ``pytorch_msssim.ssim`` (same Gaussian window and
  constants; the library averages over the valid region only, so the comparison crops the
  padded border of our map).
* :class:`defectbook.components.perceptual.SpatialPerceptualDistance` against
  ``lpips.LPIPS(spatial=True)`` with the package's v0.1 linear weights, on the same (random,
  seeded) AlexNet and VGG-16 trunks.
* The coupling block's soft clamp against DifferNet's definition
  ``exp(clamp * 0.636 * atan(s / clamp))``.
"""
import math

import pytest
import torch

from defectbook.components.losses import ssim_map

# lpips builds its random trunk through torchvision's deprecated ``pretrained=`` flag
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:torchvision")


@pytest.mark.parametrize("channels,size", [(1, 32), (3, 40)])
def test_ssim_map_equals_pytorch_msssim(channels, size):
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, channels, size, size, generator=g, dtype=torch.float64)
    y = (x + 0.2 * torch.randn(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    ours = ssim_map(x, y)[:, 5:-5, 5:-5].mean((1, 2))            # valid region of the 11x11 window
    ref = pytorch_msssim.ssim(x, y, data_range=1.0, size_average=False, win_size=11, win_sigma=1.5,
                              K=(0.01, 0.03), nonnegative_ssim=False)
    assert torch.allclose(ours, ref, atol=1e-5, rtol=0), (ours, ref)
    # and the check can fail: another window width gives another value
    assert not torch.allclose(ssim_map(x, y, window=7)[:, 5:-5, 5:-5].mean((1, 2)), ref, atol=1e-5)


def _lpips_reference(net: str):
    lpips = pytest.importorskip("lpips")
    torch.manual_seed(0)
    try:
        ref = lpips.LPIPS(net=net, spatial=True, pretrained=True, pnet_rand=True, verbose=False)
    except TypeError as e:  # torchvision without the deprecated ``pretrained`` flag
        pytest.skip(f"lpips cannot build its trunk with this torchvision: {e}")
    return ref.eval()


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_spatial_perceptual_distance_equals_lpips(net):
    from defectbook.components.perceptual import SpatialPerceptualDistance

    ref = _lpips_reference(net)
    ours = SpatialPerceptualDistance(net=net, weights="random").eval()
    # the same random trunk in both: copy lpips' slices (sliceK.<index in features>) into ours
    trunk = {f"features.{k.split('.', 1)[1]}": v for k, v in ref.net.state_dict().items()}
    missing = ours.extractor.model.load_state_dict(trunk, strict=False)
    assert not [k for k in missing.missing_keys if k.startswith("features.")]
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 64, 64, generator=g)
    y = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    with torch.no_grad():
        d_ours = ours(x, y)                                    # [B, H, W], inputs in [0, 1]
        d_ref = ref(x, y, normalize=True)[:, 0]                # [B, 1, H, W] -> [B, H, W]
    assert d_ours.shape == d_ref.shape
    assert torch.allclose(d_ours, d_ref, atol=1e-5, rtol=1e-4), (d_ours - d_ref).abs().max()


def test_soft_clamp_is_differnets_definition():
    """Our GLOW coupling scales by DifferNet's ``e(s) = exp(clamp * 0.636 * atan(s / clamp))``
    (0.636 ~ 2 / pi), not FrEIA's default ``exp(clamp * 0.636 * atan(s))``."""
    from defectbook.components.flows import coupling_flow

    torch.manual_seed(0)
    clamp = 1.2
    flow = coupling_flow(4, n_blocks=1, width=8, hidden_layers=1, clamp=clamp)
    block = flow.module_list[1]
    for p in block.parameters():                                # a large scale so the clamp matters
        torch.nn.init.normal_(p, std=3.0)
    x = torch.randn(5, 4)
    x_perm, _ = flow.module_list[0]([x])
    x1, x2 = x_perm[0][:, :2], x_perm[0][:, 2:]
    # GLOW: y1 = e(s2(x2)) * x1 + t2(x2); y2 = e(s1(y1)) * x2 + t1(y1)
    a2 = block.subnet2(x2)
    s2, t2 = a2[:, :2], a2[:, 2:]
    e = lambda s: torch.exp(clamp * 0.636 * torch.atan(s / clamp))
    y1 = e(s2) * x1 + t2
    a1 = block.subnet1(y1)
    s1, t1 = a1[:, :2], a1[:, 2:]
    y2 = e(s1) * x2 + t1
    (y,), logdet = block([x_perm[0]])
    assert torch.allclose(y, torch.cat([y1, y2], 1), atol=1e-5)
    expect = (clamp * 0.636 * torch.atan(s2 / clamp)).sum(1) + (clamp * 0.636 * torch.atan(s1 / clamp)).sum(1)
    assert torch.allclose(logdet, expect, atol=1e-4)
    assert abs(0.636 - 2 / math.pi) < 1e-3
    # FrEIA's default clamp would differ at these scales (the check can fail)
    freia = lambda s: torch.exp(clamp * 0.636 * torch.atan(s))
    assert not torch.allclose(y[:, :2], freia(s2) * x1 + t2, atol=1e-3)


def test_gaussian_blur_equals_torchvision():
    """``features.gaussian_blur`` (separable, reflect padding; PaDiM/PatchCore/N-pad maps) equals
    torchvision's ``gaussian_blur`` with the same kernel size and sigma (torchvision pads with reflect)."""
    from torchvision.transforms.functional import gaussian_blur as tv_blur

    from defectbook.components.features import gaussian_blur, gaussian_kernel1d

    maps = torch.rand(3, 48, 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for sigma in (1.0, 4.0):
        k = gaussian_kernel1d(sigma).numel()
        ref = tv_blur(maps[:, None], [k, k], [sigma, sigma])[:, 0]
        assert torch.allclose(gaussian_blur(maps, sigma), ref, atol=1e-6), sigma


def test_nearest_equals_scikit_learn():
    """``memory.nearest`` (chunked exact k-NN of PatchCore, SPADE and N-pad) returns scikit-learn's
    exact neighbours and distances."""
    import numpy as np
    from sklearn.neighbors import NearestNeighbors

    from defectbook.components.memory import nearest

    g = torch.Generator().manual_seed(0)
    mem, q = torch.randn(500, 24, generator=g), torch.randn(200, 24, generator=g)
    d, i = nearest(q, mem, k=3, chunk=37)
    ref_d, ref_i = NearestNeighbors(n_neighbors=3, algorithm="brute").fit(mem.numpy()).kneighbors(q.numpy())
    assert np.array_equal(i.numpy(), ref_i)
    assert np.allclose(d.numpy(), ref_d, atol=1e-4)
