"""Backbone passes and whole methods with glibc's default malloc and with the build's heap settings (prints figures;
not a test).

    python benchmarks/bench_heap.py [--repeats 7] [--threads 1]

Each setting runs in a fresh child process, one after the other, on the same inputs: "default" with
``MALLOC_MMAP_MAX_`` and ``MALLOC_TRIM_THRESHOLD_`` removed from the environment, "heap" with
:data:`defectbook.settings.HEAP_ENV` (what ``make`` and a build's kernels and Dask workers get). Rows:

- the backbone passes of N-pad and PaDiM (EfficientNet-Lite0 layers 1-3, a batch of 16 images at 224 px) and of
  DifferNet on MTD (layer 4, 16 images at 160 px): the median milliseconds per batch; the first again in a second
  thread, as a Dask worker runs its tasks;
- N-pad's and PaDiM's predict at the ``cpu`` profile on synthetic weave at 224 px (60 training, 44 test images):
  seconds, and the process's peak resident memory over fit and predict.

Both settings give the same numbers (allocation does not change arithmetic); the script checks the image scores.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

os.environ["DEFECTBOOK_FEATURE_CACHE"] = "0"   # the methods' own backbone passes


def child(repeats: int, threads: int) -> dict:
    import threading
    import time

    import torch

    from defectbook.components.backbones import FeatureExtractor
    from defectbook.data.prepare import prepare
    from defectbook.methods import build
    from defectbook.pipeline import spec
    from defectbook.pipeline.provenance import PeakMemory

    torch.set_num_threads(threads)
    out = {}
    g = torch.Generator().manual_seed(0)
    def passes(name, layers, size):
        fe = FeatureExtractor("efficientnet_lite0", layers)
        x = torch.rand(16, 3, size, size, generator=g)
        times = []
        with torch.no_grad():
            fe(x)
            for _ in range(repeats):
                t0 = time.perf_counter()
                fe(x)
                times.append(time.perf_counter() - t0)
        out[name] = {"ms": 1000 * sorted(times)[len(times) // 2]}

    passes("backbone l1-3, 16 x 224 px", ("layer1", "layer2", "layer3"), 224)
    passes("backbone l4, 16 x 160 px", ("layer4",), 160)
    # a Dask worker runs its tasks in a thread, which allocates from its own arena unless MALLOC_ARENA_MAX=1
    thread = threading.Thread(target=passes, args=("the same l1-3, in a thread", ("layer1", "layer2", "layer3"), 224))
    thread.start()
    thread.join()
    for method in ("padim", "npad"):
        cfg = spec.make_config("cpu", "npad", method, "synthetic", "weave", None,
                               transform={"resize": 224, "crop": None})
        prep = prepare(cfg)
        with PeakMemory() as mem:
            det = build(method, **cfg["params"]).fit(prep.train)
            t0 = time.perf_counter()
            pred = det.predict(prep.test)
            seconds = time.perf_counter() - t0
        out[f"{method} predict, 44 x 224 px"] = {"s": seconds, "peak_mib": mem.peak_rss_mb,
                                                  "scores": [float(v) for v in pred.image_scores]}
    return out


def run_setting(heap: bool, repeats: int, threads: int) -> dict:
    from defectbook.settings import HEAP_ENV

    env = {k: v for k, v in os.environ.items() if k not in HEAP_ENV}
    if heap:
        env.update(HEAP_ENV)
    cmd = [sys.executable, __file__, "--child", "--repeats", str(repeats), "--threads", str(threads)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.repeats, a.threads)))
        return
    default, heap = run_setting(False, a.repeats, a.threads), run_setting(True, a.repeats, a.threads)
    print(f"torch threads {a.threads}; backbone rows: median of {a.repeats} batches; each setting in its own process")
    print(f"{'row':34}{'default':>10}{'heap':>10}{'speed-up':>10}{'peak MiB default':>18}{'peak MiB heap':>15}")
    for row, d in default.items():
        h = heap[row]
        unit = "ms" if "ms" in d else "s"
        peak = (f"{d['peak_mib']:18.0f}{h['peak_mib']:15.0f}") if "peak_mib" in d else ""
        print(f"{row:34}{d[unit]:>8.2f}{unit:>2}{h[unit]:>8.2f}{unit:>2}{d[unit] / h[unit]:>9.2f}x{peak}")
    same = all(default[r]["scores"] == heap[r]["scores"] for r in default if "scores" in default[r])
    print(f"image scores identical in both settings: {same}")


if __name__ == "__main__":
    main()
