"""Serial versus Dask (``--workers 2``) on one grid of feature-method configs, and an estimate of the
paper grid's wall time on one 8-GPU server and on 4 such servers (prints figures; not a test).

    python benchmarks/bench_dask.py [--profile cpu] [--categories weave screw] [--workers 2]
                                    [--times STORE] [--write benchmarks/bench_dask.md]

The grid: the N-pad chapter's four methods (PaDiM, PatchCore, SPADE, N-pad) with the profile's
settings on ``--categories`` (default 2 synthetic categories: 8 configs). Both runs use one torch
thread per process (serial: this process; Dask: each of the ``--workers`` single-threaded worker
processes) and fresh result stores, after the synthetic data are generated once. The Dask wall
time is measured twice: with the cluster's start-up and the workers' first imports (what
``--workers 2`` costs from the command line; paid once per batch) and without them. The records of both runs are
compared (same keys, same metrics).

Estimate: the serial time of a grid is the sum of its per-config times; on W workers the wall
time is the makespan of a longest-first assignment of those times to W workers, divided by the
dispatch efficiency measured here (the share of the workers' time spent inside experiments; the
slow-down of each process from sharing this machine's cores is measured and printed apart). The paper grid's
per-config times come from ``--times STORE`` (a result store of paper-profile records made on the
target GPU: median fit + predict seconds per method); without it only this machine's measured
per-config times exist, and the estimate is printed in units of the single-GPU serial time.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

#: The paper profile's grid by method family: configs per family, as counted from the paper profile (about 900
#: TrustMAE trainings, 250 DifferNet trainings, 600 N-pad and baseline fits; NDP-Net not counted).
PAPER_GRID = {"trustmae": 900, "differnet": 250, "npad+baselines": 600}
FAMILY = {"trustmae": "trustmae", "memae": "trustmae", "ae_l2": "trustmae", "ae_ssim": "trustmae",
          "differnet": "differnet", "npad": "npad+baselines", "padim": "npad+baselines",
          "patchcore": "npad+baselines", "spade": "npad+baselines"}


def grid(profile: str, categories: list[str]) -> list[dict]:
    from defectbook.pipeline import spec

    S = spec.chapter("npad", profile, seeds=[0])
    return [c for m in ("padim", "patchcore", "spade", "npad") for c in S.configs(m, categories=categories, real=[])]


def makespan(times: list[float], workers: int) -> float:
    """Wall time of a longest-first (LPT) assignment of ``times`` to ``workers``."""
    import heapq

    load = [0.0] * workers
    for t in sorted(times, reverse=True):
        heapq.heapreplace(load, load[0] + t)
    return max(load)


def paper_times(store: str) -> dict[str, float]:
    """Median fit + predict seconds per family of the paper-profile records in ``store``."""
    from defectbook.pipeline.store import Store

    s = Store(store)
    per: dict[str, list[float]] = {}
    for k in s.keys():
        r = s.get(k)
        fam = FAMILY.get(r.config.get("method"))
        if r is not None and fam and r.config.get("profile") == "paper":
            per.setdefault(fam, []).append(r.timings.get("fit_s", 0) + r.timings.get("predict_s", 0))
    return {f: statistics.median(v) for f, v in per.items()}


def _warm_up():
    """Imports a process pays once (torch, timm, torchvision, the methods, the metrics): done before
    either timed run."""
    import timm  # noqa: F401, E401

    import defectbook.evaluation.metrics
    import defectbook.methods.npad  # noqa: F401, E401
    import defectbook.methods.padim
    import defectbook.methods.patchcore
    import defectbook.methods.spade  # noqa: F401, E401
    import defectbook.pipeline.run  # noqa: F401


def _half(profile: str, categories: list[str], part: int, store: str) -> None:
    """The control's child process: every other config of the grid (from ``part``), serially; prints
    its wall time (imports and data preparation done first, as in the serial run)."""
    import torch

    torch.set_num_threads(1)
    from defectbook.data.prepare import load_split_for
    from defectbook.pipeline import run as experiment
    from defectbook.pipeline.store import Store

    configs = grid(profile, categories)[part::2]
    _warm_up()
    for c in configs:
        load_split_for(c)
    t0 = time.perf_counter()
    recs = experiment.run_many(configs, Store(store))
    print(f"WALL {time.perf_counter() - t0:.3f}", flush=True)
    print(f"SUM {sum(r.timings['fit_s'] + r.timings['predict_s'] for r in recs):.3f}", flush=True)


def control(profile: str, categories: list[str], tmp: Path) -> float:
    """Wall time of the grid split over two plain processes started at once (no Dask): the ceiling
    any two-process scheme had on this machine at that moment (the longer half's time), and the sum
    of their per-config times."""
    import subprocess

    procs = [subprocess.Popen([sys.executable, __file__, "--profile", profile, "--categories", *categories,
                               "--_half", str(i), str(tmp / f"half{i}")], stdout=subprocess.PIPE, text=True)
             for i in (0, 1)]
    walls, sums = [], []
    for pr in procs:
        out, _ = pr.communicate()
        walls += [float(line.split()[1]) for line in out.splitlines() if line.startswith("WALL ")]
        sums += [float(line.split()[1]) for line in out.splitlines() if line.startswith("SUM ")]
    if len(walls) != 2 or len(sums) != 2:
        raise SystemExit("the control's processes failed")
    return max(walls), sum(sums)


def hours(s: float) -> str:
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.1f} min"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--categories", nargs="+", default=["weave", "screw"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--times", default=None, help="result store of paper-profile records (per-config GPU times)")
    ap.add_argument("--write", default=None, help="also write the figures as a Markdown page here")
    ap.add_argument("--_half", nargs=2, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # as in Dask's workers
        os.environ[var] = "1"
    os.environ.setdefault("DEFECTBOOK_PROGRESS", "0")
    if a._half:
        _half(a.profile, a.categories, int(a._half[0]), a._half[1])
        return 0

    import torch

    torch.set_num_threads(1)
    from defectbook.data.prepare import load_split_for
    from defectbook.pipeline import executors
    from defectbook.pipeline import run as experiment
    from defectbook.pipeline.store import Store

    configs = grid(a.profile, a.categories)
    tmp = Path(tempfile.mkdtemp(prefix="bench_dask_"))
    try:
        load_split_for(configs[0])  # generate the synthetic data once, outside the timings
        for c in configs:
            load_split_for(c)

        _warm_up()
        load_serial = os.getloadavg()[0]
        t0 = time.perf_counter()
        serial = experiment.run_many(configs, Store(tmp / "serial"))
        t_serial = time.perf_counter() - t0
        per_config = [r.timings["fit_s"] + r.timings["predict_s"] for r in serial]

        load_control = os.getloadavg()[0]
        t_control, sum_control = control(a.profile, a.categories, tmp)

        t0 = time.perf_counter()
        cluster = executors.start_local(a.workers, dashboard_address=":0", quiet=True)
        try:
            executors.client(cluster.scheduler_address).run(_warm_up)
            t_start = time.perf_counter() - t0
            load_dask = os.getloadavg()[0]
            t0 = time.perf_counter()
            par = executors.run_many(configs, Store(tmp / "dask"), desc="bench", address=cluster.scheduler_address,
                                    stream=open(os.devnull, "w"))
            t_dask = time.perf_counter() - t0
        finally:
            cluster.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    on_workers = [r.timings["fit_s"] + r.timings["predict_s"] for r in par]
    same = [r.key for r in par] == [r.key for r in serial] and all(p.metrics == s.metrics for p, s in zip(par, serial))
    speedup, speedup_start = t_serial / t_dask, t_serial / (t_dask + t_start)
    eff = speedup / a.workers
    busy = sum(on_workers) / (a.workers * t_dask)  # the workers' time spent in experiments: dispatch's efficiency
    cpus = os.cpu_count()
    lines = [
        f"# Dask benchmark: serial versus {a.workers} workers",
        "",
        f"Grid: {len(configs)} configs (PaDiM, PatchCore, SPADE, N-pad; `{a.profile}` profile; synthetic "
        f"{', '.join(a.categories)}; seed 0), one torch thread per process, CPU, {cpus} cores "
        "(a machine shared with other jobs while measured: the figures vary from run to run).",
        "",
        "| run | wall time |",
        "|---|---|",
        f"| serial (one process) | {t_serial:.1f} s |",
        f"| control: two plain processes at once, half the grid each (no Dask) | {t_control:.1f} s |",
        f"| Dask, {a.workers} workers (cluster running) | {t_dask:.1f} s |",
        f"| Dask, {a.workers} workers, with the cluster's start-up and the workers' imports ({t_start:.1f} s) | "
        f"{t_dask + t_start:.1f} s |",
        "",
        f"Speed-up: **{speedup:.2f}x** ({speedup_start:.2f}x counting the start-up); parallel efficiency "
        f"{eff:.2f}. Same records (keys and metrics) as the serial run: {'yes' if same else 'NO'}. "
        f"The control's speed-up, {t_serial / t_control:.2f}x, is what two processes could get from this "
        "machine at the time (its other users included).",
        f"Per-config time (serial, fit + predict): median {statistics.median(per_config):.1f} s, "
        f"range {min(per_config):.1f}-{max(per_config):.1f} s; their sum {sum(per_config):.1f} s serially, "
        f"{sum(on_workers):.1f} s on the Dask workers and {sum_control:.1f} s in the control (the same work: "
        f"the ratios, {sum(on_workers) / sum(per_config):.2f} and {sum_control / sum(per_config):.2f}, are how much "
        "slower each process computed while two ran at once). Load average (1 min) of the machine "
        f"when each run started: {load_serial:.1f} (serial), {load_control:.1f} (control), {load_dask:.1f} (Dask), "
        f"on {cpus} cores.",
        "",
        "## Estimate: the paper grid on one 8-GPU server and on 4 such servers",
        "",
        f"Dispatch efficiency: the workers spent {busy:.0%} of the Dask run inside experiments (sum of the "
        f"per-config times on the workers / ({a.workers} x wall time)); the rest is scheduling, transfers and "
        "idle tails. On a GPU server each worker has its own GPU, so the slow-down from sharing this machine's "
        "cores does not carry over; the dispatch efficiency does.",
        "",
        "Configs of the paper grid: " + ", ".join(f"{f} {n}" for f, n in PAPER_GRID.items())
        + f" ({sum(PAPER_GRID.values())} in all; NDP-Net not counted). Every config is one task on one GPU; "
          f"wall time = longest-first makespan of the per-config times over the GPUs / dispatch efficiency "
          f"({busy:.2f}).",
        "",
    ]
    times = paper_times(a.times) if a.times else {}
    if times and all(f in times for f in PAPER_GRID):
        tasks = [times[f] for f, n in PAPER_GRID.items() for _ in range(n)]
        t1 = sum(tasks)
        lines += [f"Per-config GPU times (median fit + predict of the paper records in `{a.times}`): "
                  + ", ".join(f"{f} {times[f]:.0f} s" for f in PAPER_GRID) + ".", "",
                  "| machine | GPUs | wall time |", "|---|---|---|",
                  f"| one GPU (serial) | 1 | {hours(t1)} |",
                  f"| one 8-GPU server | 8 | {hours(makespan(tasks, 8) / busy)} |",
                  f"| 4 servers | 32 | {hours(makespan(tasks, 32) / busy)} |"]
    else:
        lines += ["No per-config GPU times were measured here (no GPU on this machine; pass `--times STORE`, a "
                  "store of paper-profile records, for absolute hours). With T1 the grid's serial time on one "
                  "GPU, and tasks much shorter than T1 / 32 (the longest-first tail is one task):",
                  "", "| machine | GPUs | wall time |", "|---|---|---|",
                  f"| one 8-GPU server | 8 | T1 / {8 * busy:.1f} |",
                  f"| 4 servers | 32 | T1 / {32 * busy:.1f} |",
                  "", "(the 32-GPU figure assumes the dispatch efficiency measured with 2 local workers holds "
                  "across servers sharing one result store: dispatch costs milliseconds per task, against "
                  "minutes to hours per paper config, so it should if anything be higher there)"]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.write:
        Path(a.write).write_text(f"<!-- written by benchmarks/bench_dask.py ({' '.join(sys.argv[1:])}) -->\n" + text)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
