"""DifferNet speed: training and inference images per second at the cpu and paper sizes
(a script that prints figures, not a test).

    python benchmarks/bench_differnet.py [--sizes cpu paper] [--n 16] [--threads 2]

For each profile it times, on random images of the profile's MTD size:

* backbone features of one transform (3 scales, global average pooling): transforms/s;
* one flow training epoch (forward, NLL, backward, Adam step at the profile's batch size): samples/s;
* training images/s as the paper trains (a fresh random transform per image and epoch: features +
  flow) and as the cpu profile trains (features of a bank of K transforms once, then flow epochs);
* inference images/s with 64 test transforms (64 feature passes + 64 flow passes per image);
* the projected training time of the profile on MTD (761 training images).

AlexNet's speed does not depend on its weights, so the paper size is timed with ``weights="random"``
(no download needed).
"""
from __future__ import annotations

import argparse
import time

import torch

from defectbook.components.flows import coupling_flow, flow_loss, n_parameters
from defectbook.methods.differnet import MultiTransformFeatures
from defectbook.pipeline import profiles

MTD_TRAIN = 761


def timed(fn, repeats: int = 2) -> float:
    fn()                                  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def bench(profile: str, n: int, repeats: int) -> dict:
    F = profiles.load(profile)["differnet"]
    p = F["methods"]["differnet"]
    size = F["datasets"]["mtd"]["transform"]["resize"]
    weights = "random" if p["backbone"] == "alexnet" else None
    fx = MultiTransformFeatures(p["backbone"], p["layer"], weights, p["scales"], p["feature_batch"], "cpu")
    x = torch.rand(n, 3, size, size)

    def features():
        with torch.no_grad():
            for i in range(0, n, fx.batch_size):
                fx(fx.apply(x[i:i + fx.batch_size], 37.0))

    feat_rate = n / timed(features, repeats)
    flow = coupling_flow(fx.dim, p["n_blocks"], p["width"], p["hidden_layers"], p["clamp"] if "clamp" in p else 3.0)
    opt = torch.optim.Adam(flow.parameters(), lr=p["lr"])
    bs = p["batch_size"]
    y = torch.randn(bs * 2 if bs < 64 else bs, fx.dim)

    def flow_epoch():
        for i in range(0, y.shape[0], bs):
            z, jac = flow(y[i:i + bs])
            loss = flow_loss(z, jac)
            opt.zero_grad()
            loss.backward()
            opt.step()

    flow_rate = y.shape[0] / timed(flow_epoch, repeats)

    def flow_eval():
        with torch.no_grad():
            flow(y)

    flow_eval_rate = y.shape[0] / timed(flow_eval, repeats)
    bank = p.get("train_bank")
    epochs = p["epochs"]
    fresh = 1 / (1 / feat_rate + 1 / flow_rate)
    mtd_s = (MTD_TRAIN * (bank or epochs)) / feat_rate + MTD_TRAIN * epochs / flow_rate
    infer = 1 / (64 / feat_rate + 64 / flow_eval_rate)
    return {"profile": profile, "backbone": fx.describe(), "image size": size, "flow parameters": n_parameters(flow),
            "features transforms/s": round(feat_rate, 2), "flow train samples/s": round(flow_rate, 1),
            "train images/s (fresh transform per epoch, paper)": round(fresh, 2),
            **({f"train images/s (bank of {bank} transforms, after the bank)": round(flow_rate, 1)} if bank else {}),
            "inference images/s (64 transforms)": round(infer, 3),
            f"projected MTD training ({epochs} epochs, bank {bank}) [min]": round(mtd_s / 60, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", nargs="+", default=["cpu", "paper"])
    ap.add_argument("--n", type=int, default=16, help="images per timing")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for prof in a.sizes:
        print(f"--- {prof} (torch threads {a.threads})")
        for k, v in bench(prof, a.n, a.repeats).items():
            print(f"{k:>60}: {v}")


if __name__ == "__main__":
    main()
