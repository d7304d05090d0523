"""Memory banks of feature vectors, shared by PatchCore, SPADE and N-pad.

* :func:`nearest`: chunked exact k-nearest-neighbour search (Euclidean distances).
* :func:`greedy_coreset`: PatchCore's greedy k-center coreset on a random projection.
* :func:`kmeans`: Lloyd's k-means on CPU/GPU in chunks (N-pad's centroid memory).

Shapes: ``n`` query vectors, ``m`` memory vectors, ``C`` channels.
"""
from __future__ import annotations

import math

import torch

from .. import DefectbookError
from ..utils import progress


def sqdist(a: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor | None = None) -> torch.Tensor:
    """Squared Euclidean distances of ``a [n, C]`` to ``b [m, C]``: ``[n, m]`` (clamped at 0), as
    ``|a|^2 - 2 a.b + |b|^2`` written into the product's own buffer (one ``[n, m]`` array, not four).
    ``b_sq``: ``(b * b).sum(1)`` where the caller has it (a chunked search computes it once)."""
    b_sq = (b * b).sum(1) if b_sq is None else b_sq
    return (a @ b.T).mul_(-2).add_((a * a).sum(1, keepdim=True)).add_(b_sq[None]).clamp_min_(0)


def _chunk_rows(m: int, budget: int = 2 ** 21) -> int:
    """Query rows per chunk: a ``[rows, m]`` distance block of about ``budget`` floats (8 MiB; blocks that
    stay near the cache are about twice as fast as large ones), never under 64 rows."""
    return max(64, budget // max(m, 1))


def nearest(query: torch.Tensor, memory: torch.Tensor, k: int = 1, chunk: int | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest memory vectors of every query: distances ``[n, k]`` (Euclidean, ascending)
    and indices ``[n, k]`` into ``memory [m, C]``. Exact; queries are processed in chunks."""
    if memory.ndim != 2 or query.ndim != 2 or query.shape[1] != memory.shape[1]:
        raise DefectbookError(f"nearest(): query [n, C] and memory [m, C] must share C, got "
                              f"{tuple(query.shape)} and {tuple(memory.shape)}")
    if memory.shape[0] == 0:
        raise DefectbookError("nearest(): the memory bank is empty")
    k = min(k, memory.shape[0])
    chunk = chunk or _chunk_rows(memory.shape[0])
    m_sq = (memory * memory).sum(1)
    ds, ids = [], []
    for s in range(0, query.shape[0], chunk):
        d = sqdist(query[s:s + chunk], memory, m_sq)
        v, i = torch.topk(d, k, dim=1, largest=False) if k > 1 else d.min(1, keepdim=True)
        ds.append(v.sqrt())
        ids.append(i)
    if not ds:
        return query.new_zeros(0, k), torch.zeros(0, k, dtype=torch.long, device=query.device)
    return torch.cat(ds), torch.cat(ids)


def greedy_coreset(x: torch.Tensor, m: int, proj_dim: int | None = 128, seed: int = 0,
                   desc: str = "coreset") -> torch.Tensor:
    """Indices ``[m]`` of a greedy k-center coreset of ``x [n, C]`` (PatchCore, Sec. 3.2).

    Starts from a seeded random point and repeatedly adds the point farthest from the selection.
    Distances are measured after a seeded Gaussian random projection to ``proj_dim`` dimensions
    (Johnson-Lindenstrauss, as PatchCore; ``None`` or ``proj_dim >= C`` uses ``x`` itself).
    ``m >= n`` returns every index.
    """
    n = x.shape[0]
    if m <= 0:
        raise DefectbookError(f"coreset size must be >= 1, got {m}")
    if m >= n:
        return torch.arange(n, device=x.device)
    g = torch.Generator().manual_seed(seed)
    z = x.float()
    if proj_dim is not None and proj_dim < x.shape[1]:
        proj = torch.randn(x.shape[1], proj_dim, generator=g) / math.sqrt(proj_dim)
        z = z @ proj.to(z.device)
    sel = torch.empty(m, dtype=torch.long)
    i0 = int(torch.randint(n, (1,), generator=g))
    sel[0] = i0
    z = z.contiguous()
    sq = (z * z).sum(1)
    mind = (sq - 2 * z @ z[i0] + sq[i0]).clamp_min_(0)
    buf = torch.empty_like(mind)
    for j in progress(range(1, m), desc=desc):
        i = int(mind.argmax())
        sel[j] = i
        # |z - z_i|^2 = |z|^2 - 2 z.z_i + |z_i|^2, written into one buffer (the loop is memory-bound)
        torch.addmv(sq, z, z[i], alpha=-2, out=buf)
        torch.minimum(mind, buf.add_(sq[i]).clamp_min_(0), out=mind)
    return sel.to(x.device)


def kmeans(x: torch.Tensor, k: int, iters: int = 10, seed: int = 0, tol: float = 1e-4,
           desc: str = "k-means") -> tuple[torch.Tensor, list[float]]:
    """Lloyd's k-means of ``x [n, C]`` into ``k`` centroids: ``(centroids [k, C], inertia per iteration)``.

    Initialisation: ``k`` distinct points drawn with a seeded generator. Each iteration assigns every
    point to its nearest centroid (chunked exact search) and moves each centroid to its members' mean;
    an empty cluster keeps its centroid. Stops after ``iters`` iterations or when the mean squared
    distance improves by less than ``tol`` (relative). ``k >= n`` returns the points themselves.
    """
    n = x.shape[0]
    if k <= 0:
        raise DefectbookError(f"k-means needs k >= 1 centroids, got {k}")
    if k >= n:
        return x.clone().float(), [0.0]
    x = x.float()
    g = torch.Generator().manual_seed(seed)
    cent = x[torch.randperm(n, generator=g)[:k].to(x.device)].clone()
    history: list[float] = []
    for _ in progress(range(max(iters, 1)), desc=desc):
        dist, idx = nearest(x, cent, 1)
        inertia = float((dist[:, 0] ** 2).mean())
        history.append(inertia)
        sums = torch.zeros_like(cent).index_add_(0, idx[:, 0], x)
        counts = torch.bincount(idx[:, 0], minlength=k).to(x.dtype)
        filled = counts > 0
        cent[filled] = sums[filled] / counts[filled, None]
        if len(history) > 1 and history[-2] - inertia <= tol * max(history[-2], 1e-12):
            break
    return cent, history


def kmeans_two_level(x: torch.Tensor, k: int, iters: int = 10, seed: int = 0, desc: str = "k-means") \
        -> tuple[torch.Tensor, list[float]]:
    """An approximate k-means for large ``k`` on CPU: ``(centroids [k, C], coarse inertia per iteration)``.

    A coarse k-means into ``round(sqrt(k))`` cells, then an independent k-means inside each cell with
    ``k`` split among the cells in proportion to their sizes (largest remainders). Each point is only
    compared with its own cell's centroids, so the cost is about ``2 n sqrt(k) C`` per iteration
    instead of ``n k C``; the result is a local optimum of the same objective restricted to the cells.
    """
    n = x.shape[0]
    if k <= 0:
        raise DefectbookError(f"k-means needs k >= 1 centroids, got {k}")
    if k >= n:
        return x.clone().float(), [0.0]
    k1 = max(1, round(math.sqrt(k)))
    coarse, history = kmeans(x, k1, iters, seed, desc=f"{desc} (coarse)")
    cell = nearest(x.float(), coarse, 1)[1][:, 0]
    counts = torch.bincount(cell, minlength=k1).double()
    share = counts * k / n
    alloc = share.floor().long()
    rest = k - int(alloc.sum())
    if rest > 0:
        alloc[torch.argsort(share - alloc, descending=True)[:rest]] += 1
    alloc = torch.minimum(alloc, counts.long())
    out = []
    for i in progress(range(k1), desc=desc):
        if alloc[i] > 0:
            out.append(kmeans(x[cell == i], int(alloc[i]), iters, seed + 1 + i, desc="")[0])
    return torch.cat(out), history
