"""Packed storage, neighbour weights, weighted Gaussians and neighbour-min Mahalanobis (N-pad's parts)."""
import pytest
import torch

from defectbook.components.gaussian import (
    PixelGaussians,
    bhattacharyya_similarity,
    mahalanobis_packed,
    moments,
    neighbour_index,
    neighbour_offsets,
    neighbour_weights,
    pack_symmetric,
    packed_precisions,
    unpack_symmetric,
    weighted_gaussians,
)


def _feats(n=15, c=4, h=4, w=5, seed=0):
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed))


def test_pack_roundtrip():
    a = torch.randn(3, 6, 6)
    s = a + a.transpose(1, 2)
    p = pack_symmetric(s)
    assert p.shape == (3, 21)
    assert torch.equal(unpack_symmetric(p, 6), s)
    with pytest.raises(ValueError):
        unpack_symmetric(p, 5)


def test_offsets_and_index():
    off = neighbour_offsets(1)
    assert off.shape == (9, 2) and off[0].tolist() == [0, 0]
    idx, valid = neighbour_index((3, 4), off)
    assert valid.sum(1)[0] == 12                       # the centre is always inside
    k = off.tolist().index([1, 1])
    assert not valid[k, 11] and valid[k, 0] and idx[k, 0] == 5   # (0,0)+(1,1) = (1,1) = 5


def test_bhattacharyya_identical_is_one_and_beta_tempers():
    c = torch.eye(3) * 2
    mu = torch.tensor([1.0, 2.0, 3.0])
    assert torch.allclose(bhattacharyya_similarity(mu, c, mu, c, 0.25), torch.tensor(1.0))
    far = mu + 1
    s1, s4 = bhattacharyya_similarity(mu, c, far, c, 1.0), bhattacharyya_similarity(mu, c, far, c, 4.0)
    # D = (1/(8 beta)) * 3 * 1 / 2 for unit differences with Sbar = 2 I
    assert torch.allclose(s1, torch.exp(torch.tensor(-3 / 16)))
    assert s4 > s1                                     # larger beta lets more of the neighbourhood in


def test_uniform_single_neighbour_equals_padim():
    x = _feats()
    mean, cov = moments(x.flatten(2))
    w = neighbour_weights(mean, cov, (4, 5), 0, "uniform")
    mw, pw = weighted_gaussians(mean, cov, (4, 5), 0, w, n=15, ddof=1, eps=0.01)
    ref = PixelGaussians(0.01).fit(x.flatten(2))
    assert torch.allclose(mw, ref.mean, atol=1e-5)
    assert torch.allclose(unpack_symmetric(pw, 4), ref.precision, atol=1e-4)
    assert torch.allclose(packed_precisions(cov, 4, 0.01, 15 / 14), pack_symmetric(ref.precision), atol=1e-4)
    # in place, in chunks smaller than the set: the same numbers, written over the covariances
    copy = cov.clone()
    out = packed_precisions(copy, 4, 0.01, 15 / 14, chunk=3, inplace=True)
    assert out.data_ptr() == copy.data_ptr()
    assert torch.allclose(out, pack_symmetric(ref.precision), atol=1e-4)


def test_weighted_gaussian_equals_weighted_covariance_of_all_neighbourhood_vectors():
    n, c, h, w = 12, 3, 4, 4
    x = _feats(n, c, h, w, seed=3)
    mean, cov = moments(x.flatten(2))
    wts = neighbour_weights(mean, cov, (h, w), 1, "random", seed=1)
    mw, pw = weighted_gaussians(mean, cov, (h, w), 1, wts, n, ddof=0, eps=0.01)
    off = neighbour_offsets(1).tolist()
    p = 1 * w + 0                                      # an edge position (row 1, column 0)
    vs, ws = [], []
    for k, (dy, dx) in enumerate(off):
        a, b = 1 + dy, 0 + dx
        if 0 <= a < h and 0 <= b < w:
            vs.append(x[:, :, a, b])
            ws.append(torch.full((n,), float(wts[k, p])))
    v, wv = torch.cat(vs).double(), torch.cat(ws).double()
    wv = wv / wv.sum()
    mu = (wv[:, None] * v).sum(0)
    sig = ((v - mu).T * wv) @ (v - mu) + 0.01 * torch.eye(c, dtype=torch.double)
    assert torch.allclose(mw[p].double(), mu, atol=1e-5)
    assert torch.allclose(unpack_symmetric(pw[p], c).double(), torch.linalg.inv(sig), atol=1e-3)
    assert (wts[~neighbour_index((h, w), neighbour_offsets(1))[1]] == 0).all()


def test_bhattacharyya_weights_symmetric_and_favour_similar_neighbours():
    # left half and right half of the map have different feature means
    x = _feats(30, 3, 4, 6, seed=4)
    x[:, :, :, 3:] += 3
    mean, cov = moments(x.flatten(2))
    wts = neighbour_weights(mean, cov, (4, 6), 1, "bhattacharyya", beta=0.25)
    off = neighbour_offsets(1).tolist()
    right, left = off.index([0, 1]), off.index([0, -1])
    p = 1 * 6 + 2                                      # column 2: right neighbour across the edge
    assert wts[0, p] == 1
    assert wts[right, p] < 0.05 < wts[left, p]
    assert torch.allclose(wts[right, p], wts[left, p + 1])          # w(p, p+o) = w(p+o, p)


def test_neighbour_min_mahalanobis_brute_force():
    c, h, w = 3, 3, 4
    x = _feats(10, c, h, w, seed=5)
    mean, cov = moments(x.flatten(2))
    prec = packed_precisions(cov, c, 0.01)
    t = _feats(2, c, h, w, seed=6)
    a = mahalanobis_packed(t, mean, prec, radius=1)
    full = unpack_symmetric(prec, c)
    assert torch.allclose(mahalanobis_packed(t, mean, full, 1), a)
    for b in range(2):
        for i in range(h):
            for j in range(w):
                best = min(float((t[b, :, i, j] - mean[q]) @ full[q] @ (t[b, :, i, j] - mean[q])) ** 0.5
                           for q in range(h * w) if abs(q // w - i) <= 1 and abs(q % w - j) <= 1)
                assert abs(best - float(a[b, i * w + j])) < 1e-3
    # radius 0 is PaDiM's Mahalanobis map; a larger neighbourhood never increases the minimum
    g = PixelGaussians(0.01)
    g.mean, g.precision = mean, full
    assert torch.allclose(mahalanobis_packed(t, mean, prec, 0), g.score(t.flatten(2)), atol=1e-4)
    assert (mahalanobis_packed(t, mean, prec, 2) <= a + 1e-6).all()


@pytest.mark.parametrize("radius,chunk,cache_bytes", [(1, 5, 64), (2, None, 200), (2, 3, 2 ** 21)])
def test_neighbour_min_in_runs_of_positions_matches_brute_force(radius, chunk, cache_bytes):
    """The differences are read as contiguous runs of pixels per offset: runs that cross a row edge, the
    map's first and last rows, and chunk boundaries must all give the pixel-by-pixel minimum."""
    c, h, w = 3, 4, 5
    x = _feats(12, c, h, w, seed=7)
    mean, cov = moments(x.flatten(2))
    full = unpack_symmetric(packed_precisions(cov, c, 0.01), c)
    t = _feats(3, c, h, w, seed=8)
    a = mahalanobis_packed(t, mean, full, radius, chunk=chunk, cache_bytes=cache_bytes)
    for b in range(3):
        for i in range(h):
            for j in range(w):
                best = min(float((t[b, :, i, j] - mean[q]) @ full[q] @ (t[b, :, i, j] - mean[q])) ** 0.5
                           for q in range(h * w) if abs(q // w - i) <= radius and abs(q % w - j) <= radius)
                assert abs(best - float(a[b, i * w + j])) < 1e-3


@pytest.mark.parametrize("radius,chunk", [(1, None), (2, 7)])
def test_bhattacharyya_weights_equal_pair_by_pair(radius, chunk):
    """The vectorised weights (all pairs at once, summed in packed storage, in chunks) equal
    :func:`bhattacharyya_similarity` of each position and each neighbour, one pair at a time."""
    x = _feats(12, 3, 4, 5, seed=5)
    mean, cov = moments(x.flatten(2))
    wts = neighbour_weights(mean, cov, (4, 5), radius, "bhattacharyya", beta=0.25, eps=0.01, scale=1.2, chunk=chunk)
    idx, valid = neighbour_index((4, 5), neighbour_offsets(radius))
    eye = 0.01 * torch.eye(3)
    for k in range(idx.shape[0]):
        for p in range(20):
            q = int(idx[k, p])
            ref = bhattacharyya_similarity(mean[p], unpack_symmetric(cov[p], 3) * 1.2 + eye, mean[q],
                                           unpack_symmetric(cov[q], 3) * 1.2 + eye, 0.25) if valid[k, p] else 0.0
            assert abs(float(wts[k, p]) - float(ref)) < 1e-5, (k, p)


def test_weighted_gaussians_chunks_agree():
    """Chunked sparse accumulation: any chunk size gives the same Gaussians."""
    x = _feats(10, 3, 5, 6, seed=6)
    mean, cov = moments(x.flatten(2))
    w = torch.rand(9, 30, generator=torch.Generator().manual_seed(1))
    m1, p1 = weighted_gaussians(mean, cov, (5, 6), 1, w, n=10, chunk=4)
    m2, p2 = weighted_gaussians(mean, cov, (5, 6), 1, w, n=10)
    assert torch.allclose(m1, m2) and torch.allclose(p1, p2, atol=1e-5)
