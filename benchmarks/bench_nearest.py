"""Exact nearest-neighbour search: ``components.memory.nearest`` beside its earlier form, side by side in one run.

The earlier form computed ``|a|^2 - 2 a.b + |b|^2`` as four ``[rows, m]`` arrays in blocks of 2^25 floats; the
current one writes them into the product's own buffer in blocks of about 2^21 floats. Both give the same numbers
(checked here on every shape, bit for bit); the shapes are those the book's methods search.

    python benchmarks/bench_nearest.py [--threads 1] [--repeats 3]
"""
from __future__ import annotations

import argparse

import torch
from bench_library_parts import best  # median seconds of n calls after one warm-up call

from defectbook.components.memory import nearest

SHAPES = {  # name: (queries, memory, channels, k)
    "N-pad centroids, 224 px batch": (2016, 18800, 64, 1),
    "PatchCore memory (MTD, 112 px)": (20000, 14916, 152, 1),
    "SPADE image kNN": (5000, 3000, 272, 9),
    "1-NN on pooled features": (300, 700, 1024, 1),
}


def earlier(query: torch.Tensor, memory: torch.Tensor, k: int = 1):
    """The earlier form, kept here as the reference the current one is timed against."""
    chunk = max(1, 2 ** 25 // memory.shape[0])
    ds, ids = [], []
    for s in range(0, query.shape[0], chunk):
        a = query[s:s + chunk]
        d = ((a * a).sum(1, keepdim=True) - 2 * a @ memory.T + (memory * memory).sum(1)[None]).clamp_min_(0)
        v, i = torch.topk(d, k, dim=1, largest=False) if k > 1 else d.min(1, keepdim=True)
        ds.append(v.sqrt())
        ids.append(i)
    return torch.cat(ds), torch.cat(ids)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    print(f"torch threads {torch.get_num_threads()}, median of {a.repeats}, seconds per search")
    print(f"{'search':34}{'queries':>8}{'memory':>8}{'C':>6}{'k':>3}{'earlier s':>11}{'now s':>8}{'speed-up':>9}"
          f"{'same':>6}")
    for name, (n, m, c, k) in SHAPES.items():
        q, mem = torch.randn(n, c, generator=g) * 2, torch.randn(m, c, generator=g)
        ref, now = earlier(q, mem, k), nearest(q, mem, k)
        same = torch.equal(ref[0], now[0]) and torch.equal(ref[1], now[1])
        t_old = best(lambda: earlier(q, mem, k), a.repeats)
        t_new = best(lambda: nearest(q, mem, k), a.repeats)
        print(f"{name:34}{n:>8}{m:>8}{c:>6}{k:>3}{t_old:>11.3f}{t_new:>8.3f}{t_old / t_new:>8.2f}x{str(same):>6}")


if __name__ == "__main__":
    main()
