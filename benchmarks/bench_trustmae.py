"""TrustMAE and its baselines: seconds per training step and peak memory (prints figures, not a test).

    python benchmarks/bench_trustmae.py [--profile cpu|paper|smoke] [--steps 3] [--models trustmae,memae,ae_l2,ae_ssim]

Each model is built with the profile's parameters (TrustMAE with the profile's default number of
down-samplings) and trained for ``--steps`` steps of one batch (the profile's batch size) on random
images of the profile's size: the cost of a step does not depend on the pixel values. Where the
profile's pretrained networks (the VGG-19 feature loss) have no weights on this machine,
``--random-weights`` (the default) gives them random weights: same architecture, same cost. The
first step (allocation, lazy imports) is excluded from the mean when more than one step runs.
Peak memory is the process's resident set (and the CUDA peak on a GPU) during the steps.
"""
from __future__ import annotations

import argparse
import time

import torch

from defectbook.methods import build
from defectbook.pipeline import profiles, spec
from defectbook.pipeline.provenance import PeakMemory


def bench(model: str, P: dict, steps: int, random_weights: bool) -> dict:
    T = P["trustmae"]
    params = spec.base_params(P, "trustmae", model)
    size = T.get("method_transforms", {}).get(model, T["transform"])["resize"]
    if model == "trustmae" and random_weights and params.get("feature_net"):
        params["feature_weights"] = "random"
    bs = params["batch_size"]
    params.update(epochs=1, max_steps=steps + (1 if steps > 1 else 0), augment=True)
    x = torch.rand(bs * (steps + 1), 3, size, size, generator=torch.Generator().manual_seed(0))
    det = build(model, **params)
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        det.fit(x)
        wall = time.perf_counter() - t0
    h = det.history_
    step_s = det.seconds_per_step_
    return {"model": model, "size": size, "batch": bs, "steps": det.steps_, "s/step": round(step_s, 3),
            "fit wall s": round(wall, 1),
            "parameters (M)": round(sum(p.numel() for p in det.model_.parameters()) / 1e6, 2),
            "peak RSS MiB": round(mem.peak_rss_mb),
            **({"CUDA peak MiB": mem.as_dict()["cuda_peak_mb"]} if torch.cuda.is_available() else {}),
            "finite loss": all(torch.isfinite(torch.tensor(v)).all().item() for v in h.values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--models", default=",".join(profiles.load("cpu")["trustmae"]["methods"]))
    ap.add_argument("--pretrained", action="store_true",
                    help="resolve the real VGG-19 weights (default: random weights)")
    a = ap.parse_args()
    P = profiles.load(a.profile)
    print(f"profile {a.profile}, torch threads {torch.get_num_threads()}, device "
          f"{'cuda' if torch.cuda.is_available() else 'cpu'}")
    for m in a.models.split(","):
        print(bench(m, P, a.steps, not a.pretrained), flush=True)


if __name__ == "__main__":
    main()
