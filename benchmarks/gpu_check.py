"""GPU check: one fit + predict per method on CUDA at the paper profile's settings.

    python benchmarks/gpu_check.py                      # every method, paper settings, device cuda
    python benchmarks/gpu_check.py --methods padim npad --n-train 200 --epochs 5
    python benchmarks/gpu_check.py --smoke --device cpu # the harness itself at tiny sizes (no GPU needed)

For each method it prints the fit and predict time (``torch.cuda.synchronize`` around each) and the
peak GPU memory (``torch.cuda.max_memory_allocated``), and asserts that the work ran on the device:

* every module the detector holds (backbone, generator, flow, perceptual network) has its
  parameters and buffers on the device, and forward hooks on them see their inputs there;
* every fitted tensor (features, Gaussians, memory banks, centroids, flow statistics) is on the
  device, except the parts that are CPU by design: scikit-learn's vectors of the 1-NN / OCSVM
  baselines and DifferNet's epoch snapshots (copies kept off the GPU).

Images are random smooth textures at the paper's input size (the check is about where the work
runs, not about accuracy). Training epochs default to 1 (``--epochs``) so the check takes minutes;
everything else is the paper profile's. The pretrained weights must be present
(``defectbook weights list`` / ``defectbook weights fetch``), or pass ``--random-weights``.
Without CUDA (and without ``--device cpu``) it exits with a clear message.
"""
from __future__ import annotations

import argparse
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from defectbook.methods import REGISTRY

#: the methods checked (every registered one), each at the paper profile's settings of its own chapter
PAPER = list(REGISTRY)
#: fitted attributes that stay on the CPU by design
CPU_BY_DESIGN = {"knn": {"train_vectors_", "bank_"}, "ocsvm": {"train_vectors_"}, "differnet": {"snapshots_"}}
TRAINED = {"differnet", "trustmae", "memae", "ae_l2", "ae_ssim", "ndpnet"}


def textures(n: int, size: int, seed: int) -> torch.Tensor:
    """``[n, 3, size, size]`` smooth random images in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, max(4, size // 16), max(4, size // 16), generator=g)
    x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)
    return (x + 0.05 * torch.rand(n, 3, size, size, generator=g)).clamp(0, 1)


def params_for(method: str, P: dict, args) -> tuple[dict, int]:
    from defectbook.pipeline import spec

    cfg = spec.make_config(P, spec.default_chapter(method), method, "mvtec", "wood")   # a texture: 5 down-samplings
    p, t = dict(cfg["params"]), cfg["transform"]
    size = t.get("crop") or t.get("resize")
    if method in TRAINED:
        p["epochs"] = args.epochs
        if method == "ndpnet":
            p["epochs2"] = args.epochs
        p.pop("snapshots", None)
    if args.random_weights:
        if "backbone" in p:
            p["weights"] = "random"
        if method == "trustmae":
            p["feature_weights"] = "random"
        if "perceptual_net" in p:
            p["perceptual_net"] = "offline"
        if method == "ndpnet":
            p["perceptual_weights"] = "random"
    if args.smoke:
        size = 64
        small = {"backbone": "efficientnet_lite0", "d": 16, "batch_size": 4, "feature_batch": 4, "k_images": 3,
                 "width": 8 if method == "trustmae" else (0.1 if method == "memae" else 0.25),
                 "latent": 16, "slots": 8, "n_blocks": 2, "hidden_layers": 1, "train_bank": 2, "test_transforms": 2,
                 "n_down": 2, "disc_layers": 2, "disc_width": 4, "feature_net": "offline", "perceptual_net": "offline",
                 "shift": 1, "train_radius": 1, "infer_radius": 1, "sizes": [32, None], "target_dim": 64,
                 "layer": "layer3"}
        for k, v in small.items():
            if k in p or (k in ("feature_net", "perceptual_net") and method == "trustmae"):
                p[k] = v
        if method == "ndpnet":
            p.update(widths=[4, 8, 8, 16, 16], seg_width=8, ffm_channels=8, perceptual="offline", batch_size=4)
            p.pop("perceptual_weights", None)
        if method in ("knn", "ocsvm", "differnet"):
            p["scales"] = [1.0, 0.5]
        if method == "differnet":
            p["width"] = 16
        if method in ("padim", "npad", "spade", "patchcore", "ensemble"):
            p.pop("weights", None)
            if method == "spade":
                p["layers"], p["global_layer"] = ["layer1", "layer2"], "layer3"
    p["device"] = args.device
    return p, size


def _walk(v, name: str, out: list):
    """``(attribute path, tensor)`` of every tensor inside ``v``."""
    from defectbook.methods.base import Detector

    if isinstance(v, torch.Tensor):
        out.append((name, v))
    elif isinstance(v, Detector):        # its buffers and submodules, and its unregistered parts
        for k, x in [*v.named_buffers(recurse=False), *v.named_children(), *vars(v).items()]:
            _walk(x, f"{name}.{k}", out)
    elif isinstance(v, nn.Module):
        out += [(f"{name}.{k}", t) for k, t in v.state_dict().items() if isinstance(t, torch.Tensor)]
    elif isinstance(v, (list, tuple)):
        for i, x in enumerate(v):
            _walk(x, f"{name}[{i}]", out)
    elif isinstance(v, dict):
        for k, x in v.items():
            _walk(x, f"{name}[{k!r}]", out)
    elif hasattr(v, "__dict__") and type(v).__module__.startswith("defectbook"):
        for k, x in vars(v).items():
            _walk(x, f"{name}.{k}", out)
    return out


def modules_of(det) -> list[nn.Module]:
    from defectbook.methods.base import Detector

    mods = []
    for v in [*det.children(), *vars(det).values()]:    # submodules, and parts kept out of the state
        if isinstance(v, Detector):
            mods += modules_of(v)
        elif isinstance(v, (list, nn.ModuleList)) and any(isinstance(x, Detector) for x in v):
            mods += [m for x in v if isinstance(x, Detector) for m in modules_of(x)]
        elif isinstance(v, nn.Module):
            mods.append(v)
    feats = getattr(det, "features_", None)
    if feats is not None and hasattr(feats, "extractor"):
        mods.append(feats.extractor)
    return mods


def check_one(method: str, P: dict, args) -> dict:
    from defectbook.methods import build

    params, size = params_for(method, P, args)
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    train, test = textures(args.n_train, size, 0), textures(args.n_test, size, 1)
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    det = build(method, **params)
    seen = {"inputs": 0, "off_device": 0}

    def hook(_m, inp, _out):
        for t in inp:
            if isinstance(t, torch.Tensor):
                seen["inputs"] += 1
                seen["off_device"] += t.device.type != dev.type

    t0 = time.perf_counter()
    det.fit(train)
    if cuda:
        torch.cuda.synchronize()
    t1 = time.perf_counter()
    handles = [m.register_forward_hook(hook) for m in modules_of(det)]
    det.predict(test)
    if cuda:
        torch.cuda.synchronize()
    t2 = time.perf_counter()
    for h in handles:
        h.remove()
    if getattr(det, "_pd", None) is not None:
        handles = [det._pd.register_forward_hook(hook)]
    tensors = _walk(det, method, [])
    allowed = CPU_BY_DESIGN.get(method, set())
    wrong = [n for n, t in tensors if t.device.type != dev.type
             and not any(f".{a}" in n for a in allowed) and not n.startswith(f"{method}.gen_")]
    params_off = [n for m in modules_of(det) for n, p in m.named_parameters() if p.device.type != dev.type]
    row = {"method": method, "size": size, "n_train": args.n_train, "fit_s": t1 - t0, "predict_s": t2 - t1,
           "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2 ** 20 if cuda else float("nan"),
           "tensors_on_device": sum(t.device.type == dev.type for _, t in tensors), "tensors": len(tensors),
           "hooked_inputs": seen["inputs"]}
    assert not params_off, f"{method}: parameters off {dev}: {params_off[:5]}"
    assert not wrong, f"{method}: fitted tensors off {dev}: {wrong[:5]}"
    assert seen["inputs"] == 0 or seen["off_device"] == 0, f"{method}: {seen['off_device']} module inputs off {dev}"
    assert row["tensors_on_device"] > 0, f"{method}: no fitted tensor on {dev}"
    if cuda:
        assert row["peak_gpu_mib"] > 1, f"{method}: nothing was allocated on the GPU"
    return row


def main(argv=None) -> int:
    from defectbook.methods import REGISTRY
    from defectbook.pipeline import spec

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", nargs="*", default=list(PAPER), choices=sorted(REGISTRY))
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N (or cpu with --smoke, to test the harness)")
    ap.add_argument("--n-train", type=int, default=64)
    ap.add_argument("--n-test", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=1, help="training epochs of the trained methods (paper: 100-300)")
    ap.add_argument("--random-weights", action="store_true", help="random backbone weights (no downloads needed)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (checks the harness, not the GPU)")
    args = ap.parse_args(argv)
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        print(f"gpu_check: CUDA is not available on this machine (torch {torch.__version__}, CUDA build "
              f"{torch.version.cuda or 'none'}): nothing was checked. Run it on a machine with an NVIDIA GPU "
              "and a CUDA build of torch.", file=sys.stderr)
        return 1
    if not args.smoke and not args.random_weights:
        from defectbook.components.backbones import weights_table

        missing = [r["file"] for r in weights_table() if r["path"] is None]
        if missing:
            print(f"gpu_check: absent weight files {', '.join(missing)}: run `defectbook weights fetch` "
                  "(or pass --random-weights)", file=sys.stderr)
    P = spec.load("paper")
    name = torch.cuda.get_device_name() if torch.device(args.device).type == "cuda" else args.device
    print(f"device {name}, torch {torch.__version__}, paper settings{' (smoke sizes)' if args.smoke else ''}, "
          f"{args.n_train} train / {args.n_test} test images, epochs {args.epochs}")
    print(f"{'method':<10} {'size':>4} {'fit s':>8} {'predict s':>9} {'peak GPU MiB':>12} {'tensors on device':>18}")
    failed = 0
    for m in args.methods:
        try:
            r = check_one(m, P, args)
            print(f"{m:<10} {r['size']:>4} {r['fit_s']:>8.2f} {r['predict_s']:>9.2f} {r['peak_gpu_mib']:>12.0f} "
                  f"{r['tensors_on_device']:>9}/{r['tensors']:<8}", flush=True)
        except Exception as e:  # noqa: BLE001 - report and go on with the next method
            failed += 1
            print(f"{m:<10} FAILED: {type(e).__name__}: {e}", flush=True)
    print(f"{len(args.methods) - failed} ok, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
