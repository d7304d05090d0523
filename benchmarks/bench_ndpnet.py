"""NDP-Net cost: seconds per training step (phase 1 and phase 2) and peak memory at the paper's
settings and at the cpu profile's (a script that prints figures, not a test).

    python benchmarks/bench_ndpnet.py [--profiles cpu paper] [--steps 2] [--threads 2] [--png out.png]

For each profile it trains NDP-Net with the profile's parameters on ``batch_size x steps`` random
texture-like images at the profile's size for one epoch per phase (``steps`` optimiser steps each),
and prints seconds per step of each phase (the first step included), inference ms per image and the
process's peak resident memory (and CUDA peak where a GPU is used). VGG-16's speed does not depend on
its weights: a paper-profile run without the ImageNet file times it with random weights (labelled).
``--png`` saves input / reconstruction / map of the last profile, to look at.
"""
from __future__ import annotations

import argparse
import time

import torch

from defectbook import DefectbookError
from defectbook.methods.ndpnet import NDPNet
from defectbook.pipeline import spec
from defectbook.pipeline.provenance import PeakMemory


def images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    out = [(0.5 + 0.2 * torch.sin((xx * 0.3 + yy * 0.2) + torch.rand(1, generator=g) * 6)).expand(3, -1, -1)
           + 0.03 * torch.randn(3, size, size, generator=g) for _ in range(n)]
    return torch.stack(out).clamp(0, 1)


def bench(profile: str, steps: int) -> tuple[dict, NDPNet, torch.Tensor]:
    cfg = spec.make_config(profile, "ndpnet", "ndpnet", "synthetic", "wood")
    params = dict(cfg["params"]) | {"epochs": 1, "epochs2": 1}
    size = cfg["transform"]["resize"]
    x = images(params.get("batch_size", 8) * steps, size)
    label = params.get("perceptual")
    try:
        NDPNet(**params)._perceptual_net()
    except DefectbookError:
        params["perceptual_weights"] = "random"
        label = f"{label} (random weights: timing only)"
    det = NDPNet(**params)
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        det.fit(x)
        fit_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        det.predict(x[:8])
        pred_s = time.perf_counter() - t1
    ph = det.phase_seconds_
    return ({"profile": profile, "size": size, "widths": params["widths"], "batch": det.batch_size,
             "steps/phase": steps,
             "phase1 s/step": round(ph["phase1"] / steps, 3), "phase2 s/step": round(ph["phase2"] / steps, 3),
             "fit s": round(fit_s, 1), "predict ms/image": round(1000 * pred_s / 8, 1),
             "parameters": det.extras()["parameters"],
             "perceptual": label, **mem.as_dict(), "threads": torch.get_num_threads(), "device": str(det.device_)},
            det, x[:4])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", nargs="+", default=["cpu", "paper"])
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--png", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for p in a.profiles:
        res, det, x = bench(p, a.steps)
        print(res, flush=True)
    if a.png:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        an = det.analyse(x)
        fig, ax = plt.subplots(3, len(x), figsize=(2 * len(x), 6))
        for j in range(len(x)):
            ax[0, j].imshow(x[j].permute(1, 2, 0)); ax[1, j].imshow(an["recon"][j].permute(1, 2, 0))
            ax[2, j].imshow(an["msdsm"][j], cmap="jet")
        fig.savefig(a.png, dpi=80)


if __name__ == "__main__":
    main()
