"""Hand-written parts against the library equivalents they are tested equal to
(`tests/unit/test_library_checks.py`): seconds per call, median of 5, one thread by default.

    python benchmarks/bench_library_parts.py [--threads N]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch


def best(fn, n=5):
    fn()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from pytorch_msssim import ssim as lib_ssim
    from sklearn.neighbors import NearestNeighbors
    from torchvision.transforms.functional import gaussian_blur as tv_blur

    from defectbook.components.features import gaussian_blur, gaussian_kernel1d
    from defectbook.components.losses import ssim_map
    from defectbook.components.memory import nearest

    g = torch.Generator().manual_seed(0)
    rows = []
    maps = torch.rand(32, 224, 224, generator=g)
    k = gaussian_kernel1d(4.0).numel()
    rows.append(("gaussian blur 32 x 224^2, sigma 4", best(lambda: gaussian_blur(maps, 4.0)),
                 "torchvision gaussian_blur", best(lambda: tv_blur(maps[:, None], [k, k], [4.0, 4.0]))))
    x, y = torch.rand(8, 3, 128, 128, generator=g), torch.rand(8, 3, 128, 128, generator=g)
    rows.append(("SSIM 8 x 3 x 128^2", best(lambda: ssim_map(x, y)),
                 "pytorch_msssim.ssim (mean only)", best(lambda: lib_ssim(x, y, data_range=1.0, size_average=False))))
    mem, q = torch.randn(5000, 256, generator=g), torch.randn(20000, 256, generator=g)
    nn_ = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(mem.numpy())
    rows.append(("1-NN 20000 queries x 5000 x 256", best(lambda: nearest(q, mem, 1), 3),
                 "sklearn NearestNeighbors(brute)", best(lambda: nn_.kneighbors(q.numpy()), 3)))
    try:
        import faiss
        index = faiss.IndexFlatL2(256)
        index.add(mem.numpy())
        rows.append(("", float("nan"), "faiss IndexFlatL2", best(lambda: index.search(q.numpy(), 1), 3)))
    except ImportError:
        pass
    print(f"threads: {a.threads}")
    print(f"{'part':36s} {'ours s':>8s}  {'library':34s} {'lib s':>8s}  ratio lib/ours")
    for name, ours, lib, t in rows:
        print(f"{name:36s} {ours:8.4f}  {lib:34s} {t:8.4f}  {t / ours if ours == ours else float('nan'):5.2f}")


if __name__ == "__main__":
    main()
