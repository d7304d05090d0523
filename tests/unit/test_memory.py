import torch

from defectbook import DefectbookError
from defectbook.components.memory import greedy_coreset, kmeans, nearest, sqdist


def test_nearest_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    q, m = torch.randn(37, 5, generator=g), torch.randn(23, 5, generator=g)
    d, i = nearest(q, m, k=3, chunk=7)
    full = torch.cdist(q, m)
    ref_d, ref_i = full.topk(3, largest=False)
    assert torch.allclose(d, ref_d, atol=1e-5) and (i == ref_i).all()
    d1, i1 = nearest(q, m, 1)
    assert (i1[:, 0] == full.argmin(1)).all()
    assert torch.allclose(sqdist(q, m), full ** 2, atol=1e-4)


def test_nearest_rejects_mismatched_shapes():
    import pytest

    with pytest.raises(DefectbookError, match="share C"):
        nearest(torch.zeros(3, 4), torch.zeros(5, 3))
    with pytest.raises(DefectbookError, match="empty"):
        nearest(torch.zeros(3, 4), torch.zeros(0, 4))


def test_coreset_ratio_one_keeps_everything_and_covers_outliers():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(50, 8, generator=g)
    assert (greedy_coreset(x, 50) == torch.arange(50)).all()
    x[7] += 100                                  # a far outlier must be picked within the first two points
    sel = greedy_coreset(x, 5, proj_dim=None, seed=0)
    assert len(set(sel.tolist())) == 5 and 7 in sel[:2].tolist()
    # covering radius shrinks as the coreset grows
    r = [nearest(x, x[greedy_coreset(x, m, None)], 1)[0].max() for m in (2, 10, 30)]
    assert r[0] > r[1] > r[2]


def test_kmeans_recovers_separated_clusters_and_is_deterministic():
    g = torch.Generator().manual_seed(2)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = torch.cat([c + 0.1 * torch.randn(40, 2, generator=g) for c in centres])
    best = None
    for seed in range(5):                        # random init may merge two clusters; one of 5 seeds succeeds
        cent, hist = kmeans(x, 3, iters=20, seed=seed)
        err = torch.cdist(centres, cent).min(1).values.max()
        best = err if best is None else min(best, err)
        assert all(a >= b - 1e-6 for a, b in zip(hist, hist[1:]))   # inertia never increases
    assert best < 0.1
    a, _ = kmeans(x, 4, iters=5, seed=3)
    b, _ = kmeans(x, 4, iters=5, seed=3)
    assert torch.equal(a, b)
    assert kmeans(x, 500)[0].shape == x.shape    # k >= n: the points themselves


def test_two_level_kmeans_gives_k_centroids_and_low_inertia():
    from defectbook.components.memory import kmeans_two_level

    g = torch.Generator().manual_seed(4)
    x = torch.cat([c + 0.05 * torch.randn(30, 3, generator=g) for c in 5 * torch.randn(16, 3, generator=g)])
    cent, _ = kmeans_two_level(x, 16, iters=10, seed=0)
    assert cent.shape == (16, 3)
    inertia = (nearest(x, cent, 1)[0] ** 2).mean()
    assert inertia < (nearest(x, x[:16], 1)[0] ** 2).mean()          # better than arbitrary points
    assert kmeans_two_level(x, 1000)[0].shape == x.shape
