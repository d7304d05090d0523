"""DifferNet on MTD: image AUROC against cost, one factor at a time from the cpu profile.

    python benchmarks/differnet_mtd_cost.py [--only NAME ...] [--threads 1] [--write FILE] [--list]

Every setting is the former cpu profile's DifferNet config on Magnetic Tile Defects (DifferNet's training
list: 761 defect-free training images, 583 test images) built by the one config builder
(``spec.chapter("differnet", "cpu").config``) with ``FORMER`` (a bank of 4 training rotations, 8 test
rotations: the cpu profile's MTD setting before this sweep) and one change, and run by ``experiment.run`` (records
in ``DEFECTBOOK_RESULTS``; a rerun reuses them, so the table can be rewritten without recomputing).
The build's feature cache is off (``DEFECTBOOK_FEATURE_CACHE=0``) so that ``fit s`` and ``predict s``
are what a cold run of that setting costs (backbone features of the training bank and of the test
transforms included), at ``--threads`` torch threads. ``cpu s`` is the process CPU time of the run
(data loading, fit, predict), which other processes sharing the cores do not inflate; with one
thread it is the wall time of the run on an idle core. It is kept beside the records
(``cpu_seconds.json`` in the results folder) for reruns that reuse them.

Printed per setting: image AUROC of the last epoch with a 95 % bootstrap interval (test images
resampled within each class, 1000 resamples), its difference from the cpu profile's run (when that
runs first) with a paired bootstrap interval (the same test images), fit and predict seconds, their sum, and the test
AUROC of the kept snapshots (``snapshots``: the flow at evenly spaced epochs; with no learning-rate
schedule the snapshot at epoch e is exactly the model of a run with ``epochs=e``, so this column is
the epochs factor at no extra cost; it uses the test labels and is not model selection for the
table). Needs MTD under ``DEFECTBOOK_DATA``. Prints a markdown table (not a test).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

#: The cpu profile's MTD setting before this sweep; every setting starts from it. The profile now uses the
#: setting "test_transforms 32, train_bank 8" (``profiles/differnet.yaml``, ``datasets.mtd.params``).
FORMER = {"train_bank": 4, "test_transforms": 8}

#: (name, params changed against the former cpu profile, image size or None = the profile's), in priority order.
SETTINGS: list[tuple[str, dict, int | None]] = [
    ("cpu profile", {}, None),   # the former setting: the baseline of every paired difference
    ("layer3+layer4", {"layer": ["layer3", "layer4"]}, None),
    ("layer3", {"layer": "layer3"}, None),
    ("resize 224", {}, 224),
    ("resize 224, layer3+layer4", {"layer": ["layer3", "layer4"]}, 224),
    ("test_transforms 16", {"test_transforms": 16}, None),
    ("test_transforms 32", {"test_transforms": 32}, None),
    ("test_transforms 64", {"test_transforms": 64}, None),
    ("train_bank 8", {"train_bank": 8}, None),
    ("jitter 0", {"jitter": 0.0}, None),
    ("epochs 120", {"epochs": 120, "snapshots": 12}, None),
    ("test_transforms 1", {"test_transforms": 1}, None),
    ("scales 1, 0.5", {"scales": [1.0, 0.5]}, None),
    ("resize 256", {}, 256),
    ("train_bank 16", {"train_bank": 16}, None),
    ("test_transforms 32, train_bank 8", {"test_transforms": 32, "train_bank": 8}, None),
    ("test_transforms 32, train_bank 16", {"test_transforms": 32, "train_bank": 16}, None),
    ("test_transforms 32, jitter 0", {"test_transforms": 32, "jitter": 0.0}, None),
    ("test_transforms 32, train_bank 8, jitter 0", {"test_transforms": 32, "train_bank": 8, "jitter": 0.0}, None),
]


def config(params: dict, resize: int | None) -> dict:
    """The former cpu profile's DifferNet config on MTD with ``params`` and image size ``resize`` changed."""
    from defectbook.pipeline import spec

    chapter = spec.chapter("differnet", "cpu")
    transform = None
    if resize is not None:
        transform = dict(chapter.section["datasets"]["mtd"]["transform"], resize=resize)
    return chapter.config("differnet", "mtd", None, seed=chapter.seeds[0], save_maps=0, transform=transform,
                          **{**FORMER, **params})


def row(name: str, rec, cpu_s: float | None, base=None) -> dict:
    from defectbook.analysis.differnet import cost_row, snapshot_aurocs
    from defectbook.evaluation.metrics import auroc_difference

    c = cost_row(rec, n_boot=1000)
    delta = "—"
    if base is not None and base.key != rec.key and base.labels == rec.labels:
        d = auroc_difference(rec.labels, rec.scores, base.scores, n_boot=1000)
        delta = f"{d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
    snaps = " ".join(f"{e}:{a:.3f}" for e, a in snapshot_aurocs(rec))
    return {"setting": name, "size": c["image size"], "layer": c["layer"], "bank": c["bank"], "epochs": c["epochs"],
            "test T": c["test rotations"], "jitter": c["jitter"], "dim": c["dim"],
            "AUROC [95% CI]": f"{c['image AUROC']:.3f} [{c['low']:.3f}, {c['high']:.3f}]",
            "Δ vs cpu profile [paired 95% CI]": delta,
            "fit s": round(c["fit s"]), "predict s": round(c["predict s"]),
            "cpu s": round(cpu_s) if cpu_s is not None else "—",
            "cache hits": c["cache hits"], "AUROC at kept epochs (test)": snaps}


def markdown(rows: list[dict]) -> str:
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(out)


def main(argv=None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="+", default=None, help="setting names, run in this order (default: all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--write", default=None, help="also write the table (with its command line) to this file")
    ap.add_argument("--list", action="store_true", help="list the settings and exit")
    a = ap.parse_args(argv)
    if a.list:
        for name, params, resize in SETTINGS:
            print(f"{name}: {params} resize={resize}")
        return ""
    os.environ["DEFECTBOOK_FEATURE_CACHE"] = "0"
    os.environ.setdefault("DEFECTBOOK_REUSE_MODELS", "0")
    import json

    import torch

    from defectbook.paths import results_dir
    from defectbook.pipeline import run as experiment
    from defectbook.pipeline.keys import key_of
    from defectbook.pipeline.store import Store

    torch.set_num_threads(a.threads)
    by_name = {s[0]: s for s in SETTINGS}
    chosen = SETTINGS if a.only is None else [by_name[n] for n in a.only if n in by_name]   # in the order asked
    missing = set(a.only or []) - {s[0] for s in chosen}
    if missing:
        sys.exit(f"unknown settings {sorted(missing)}; see --list")
    side = results_dir() / "cpu_seconds.json"
    cpu = json.loads(side.read_text()) if side.is_file() else {}
    store, rows, base = Store(), [], None
    for name, params, resize in chosen:
        cfg = config(params, resize)
        t0, c0 = time.perf_counter(), time.process_time()
        had = store.get(key_of(cfg)) is not None
        rec = experiment.run(cfg, store)
        if not had:
            cpu[rec.key] = time.process_time() - c0
            side.parent.mkdir(parents=True, exist_ok=True)
            side.write_text(json.dumps(cpu, indent=1))
        base = rec if name == SETTINGS[0][0] else base
        rows.append(row(name, rec, cpu.get(rec.key), base))
        print(f"[{time.perf_counter() - t0:.0f} s] {rows[-1]}", file=sys.stderr, flush=True)
    table = markdown(rows)
    print(table)
    if a.write:
        import platform

        head = (f"Output of `python benchmarks/differnet_mtd_cost.py {' '.join(argv or sys.argv[1:])}` "
                f"(profile cpu, MTD with DifferNet's training list, seed 0, {platform.machine()} CPU, "
                f"{a.threads} torch thread(s), feature cache off: seconds are cold costs; `fit s` and `predict s` are "
                f"wall seconds on cores shared with other jobs, `cpu s` the run's CPU time):\n\n")
        with open(a.write, "w") as f:
            f.write(head + table + "\n")
    return table


if __name__ == "__main__":
    main()
