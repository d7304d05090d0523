"""Serial versus Dask (``--workers 2``) on one grid of feature-method configs, and an estimate of the
paper grid's wall time on one 8-GPU server and on 4 such servers (prints figures; not a test).

    python benchmarks/bench_dask.py [--profile cpu] [--categories weave screw] [--workers 2]
                                    [--times STORE] [--write benchmarks/bench_dask.md]

The grid: the N-pad chapter's four methods (PaDiM, PatchCore, SPADE, N-pad) with the profile's
settings on ``--categories`` (default 2 synthetic categories: 8 configs). Both runs use one torch
thread per process (serial: this process; Dask: each of the ``--workers`` single-threaded worker
processes) and fresh result stores, after the synthetic data are generated once. The Dask wall
time is measured twice: with the cluster's start-up and the workers' first imports (what
``--workers 2`` costs from the command line; paid once per batch) and without them. The records of both runs are compared (same keys, same metrics).

Estimate: the serial time of a grid is the sum of its per-config times; on W workers the wall
time is the makespan of a longest-first assignment of those times to W workers, divided by the
parallel efficiency measured here (speed-up / workers, start-up excluded). The paper grid's
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

#: The paper profile's grid by method family: configs per family, as sized in issue #18 (about 900
#: TrustMAE trainings, 250 DifferNet trainings, 600 N-pad and baseline fits; NDP-Net not counted).
PAPER_GRID = {"trustmae": 900, "differnet": 250, "npad+baselines": 600}
FAMILY = {"trustmae": "trustmae", "memae": "trustmae", "ae_l2": "trustmae", "ae_ssim": "trustmae",
          "differnet": "differnet", "npad": "npad+baselines", "padim": "npad+baselines",
          "patchcore": "npad+baselines", "spade": "npad+baselines"}


def grid(profile: str, categories: list[str]) -> list[dict]:
    from defectbook import experiment, profiles

    P = profiles.load(profile)
    return [c for m in ("padim", "patchcore", "spade", "npad")
            for c in experiment.family_configs(P, "npad", m, cats=categories, seeds=[0])]


def makespan(times: list[float], workers: int) -> float:
    """Wall time of a longest-first (LPT) assignment of ``times`` to ``workers``."""
    import heapq

    load = [0.0] * workers
    for t in sorted(times, reverse=True):
        heapq.heapreplace(load, load[0] + t)
    return max(load)


def paper_times(store: str) -> dict[str, float]:
    """Median fit + predict seconds per family of the paper-profile records in ``store``."""
    from defectbook.results import Store

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
    import timm, torchvision  # noqa: F401, E401
    import defectbook.experiment  # noqa: F401
    import defectbook.methods.npad, defectbook.methods.padim, defectbook.methods.patchcore  # noqa: F401, E401
    import defectbook.methods.spade, defectbook.metrics  # noqa: F401, E401


def hours(s: float) -> str:
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.1f} min"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--categories", nargs="+", default=["weave", "screw"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--times", default=None, help="result store of paper-profile records (per-config GPU times)")
    ap.add_argument("--write", default=None, help="also write the figures as a Markdown page here")
    a = ap.parse_args()

    os.environ.setdefault("DEFECTBOOK_PROGRESS", "0")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # as in Dask's workers
        os.environ[var] = "1"
    import torch

    torch.set_num_threads(1)
    from defectbook import dispatch, experiment
    from defectbook.results import Store

    configs = grid(a.profile, a.categories)
    tmp = Path(tempfile.mkdtemp(prefix="bench_dask_"))
    try:
        experiment.load_split_for(configs[0])  # generate the synthetic data once, outside the timings
        for c in configs:
            experiment.load_split_for(c)

        _warm_up()
        t0 = time.perf_counter()
        serial = experiment.run_many(configs, Store(tmp / "serial"))
        t_serial = time.perf_counter() - t0
        per_config = [r.timings["fit_s"] + r.timings["predict_s"] for r in serial]

        t0 = time.perf_counter()
        cluster = dispatch.start_local(a.workers, dashboard_address=":0", quiet=True)
        try:
            dispatch.client(cluster.scheduler_address).run(_warm_up)
            t_start = time.perf_counter() - t0
            t0 = time.perf_counter()
            par = dispatch.run_many(configs, Store(tmp / "dask"), desc="bench", address=cluster.scheduler_address,
                                    stream=open(os.devnull, "w"))
            t_dask = time.perf_counter() - t0
        finally:
            cluster.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    same = [r.key for r in par] == [r.key for r in serial] and all(p.metrics == s.metrics for p, s in zip(par, serial))
    speedup, speedup_start = t_serial / t_dask, t_serial / (t_dask + t_start)
    eff = speedup / a.workers
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
        f"| Dask, {a.workers} workers (cluster running) | {t_dask:.1f} s |",
        f"| Dask, {a.workers} workers, with the cluster's start-up and the workers' imports ({t_start:.1f} s) | "
        f"{t_dask + t_start:.1f} s |",
        "",
        f"Speed-up: **{speedup:.2f}x** ({speedup_start:.2f}x counting the start-up); parallel efficiency "
        f"{eff:.2f}. Same records (keys and metrics) as the serial run: {'yes' if same else 'NO'}.",
        f"Per-config time (serial, fit + predict): median {statistics.median(per_config):.1f} s, "
        f"range {min(per_config):.1f}-{max(per_config):.1f} s.",
        "",
        "## Estimate: the paper grid on one 8-GPU server and on 4 such servers",
        "",
        "Configs of the paper grid: " + ", ".join(f"{f} {n}" for f, n in PAPER_GRID.items())
        + f" ({sum(PAPER_GRID.values())} in all; NDP-Net not counted). Every config is one task on one GPU; "
          f"wall time = longest-first makespan of the per-config times over the GPUs / efficiency ({eff:.2f}, "
          "measured above).",
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
                  f"| one 8-GPU server | 8 | {hours(makespan(tasks, 8) / eff)} |",
                  f"| 4 servers | 32 | {hours(makespan(tasks, 32) / eff)} |"]
    else:
        lines += ["No per-config GPU times were measured here (no GPU on this machine; pass `--times STORE`, a "
                  "store of paper-profile records, for absolute hours). With T1 the grid's serial time on one "
                  "GPU, and tasks much shorter than T1 / 32 (the longest-first tail is one task):",
                  "", "| machine | GPUs | wall time |", "|---|---|---|",
                  f"| one 8-GPU server | 8 | T1 / {8 * eff:.1f} |",
                  f"| 4 servers | 32 | T1 / {32 * eff:.1f} |",
                  "", "(the 32-GPU figure assumes the efficiency measured on 2 local workers holds across "
                  "servers with a shared result store: dispatch costs milliseconds per task, against minutes "
                  "to hours per paper config)"]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.write:
        Path(a.write).write_text(f"<!-- written by benchmarks/bench_dask.py ({' '.join(sys.argv[1:])}) -->\n" + text)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
