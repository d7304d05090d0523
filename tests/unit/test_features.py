"""Shared feature plumbing: neighbourhood averaging and layer concatenation."""
import torch
import torch.nn.functional as F

from defectbook.components.features import concat_layers, local_average


def test_local_average_matches_clipped_average_pool():
    x = torch.randn(2, 5, 9, 7)
    for r in (1, 2, 3):
        ref = F.avg_pool2d(x, 2 * r + 1, stride=1, padding=r, count_include_pad=False)
        assert torch.allclose(local_average(x, r), ref, atol=1e-6)


def test_local_average_corner_leaves_out_positions_outside_the_map():
    x = torch.arange(9.0).view(1, 1, 3, 3)
    out = local_average(x, 1)
    assert out[0, 0, 0, 0] == (0 + 1 + 3 + 4) / 4          # 4 in-map neighbours at a corner
    assert out[0, 0, 1, 1] == x.mean()                      # the centre sees the whole map
    assert torch.equal(local_average(x, 0), x)


def test_concat_layers_upsamples_to_the_largest_map():
    out = concat_layers([torch.randn(2, 3, 8, 8), torch.randn(2, 4, 4, 4)])
    assert out.shape == (2, 7, 8, 8)
