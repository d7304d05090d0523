"""The scale ladder: each paper's central claims measured from the ``cpu`` setting upwards, rung by rung,
into the results bundle ``bundles/scale`` that the "At larger scale" pages draw.

The claims, their rungs (config changes over the ``cpu`` profile), the estimated wall time of each rung
on two cores and the reading rule are declared in :mod:`defectbook.analysis.scale`. A rung the bundle
holds is skipped; a finished rung's records (the store's JSON, checksummed) and its effects go into the
bundle as soon as it completes, so a stopped ladder loses at most the rung it was running. Commit the
bundle after each rung (``git add bundles/scale && git commit``).

    python benchmarks/scale_ladder.py --list                     # the ladders with their estimated costs
    python benchmarks/scale_ladder.py --claim CLAIM [--rungs r0 r1] [--data-root DIR] [--seed-from STORE]
    python benchmarks/scale_ladder.py --claim all --tiny --bundle /tmp/tiny   # minutes: smoke-sized rungs

The real ladder on this machine (2 cores; ``export PYTHONPATH=$PWD/src DEFECTBOOK_DATA=/work/shared/data
DEFECTBOOK_OFFLINE=1``; ``--seed-from`` a finished cpu build's store makes rung r0 free where it has the
records over the same data files (a record's key holds its split's file fingerprint: /work/after's ELPV
records match, its MTD records were made over another copy of MTD); estimated minutes per rung in brackets,
for two unloaded cores)::

    python benchmarks/scale_ladder.py --claim trustmae.noise_robustness                   # [8, 7, 16]
    python benchmarks/scale_ladder.py --claim trustmae.clean_auroc_vs_memae               # [0, 0, 0]: the above's
    python benchmarks/scale_ladder.py --claim ndpnet.pixel_auroc_vs_reconstruction        # [9, 12, 18]
    python benchmarks/scale_ladder.py --claim ndpnet.table6_switches                      # [6, 12, 18]
    python benchmarks/scale_ladder.py --claim differnet.flow_vs_knn_ocsvm_mtd --seed-from /work/after/_cache/results
                                                                                          # [36, 8, 6, 9]
    python benchmarks/scale_ladder.py --claim differnet.table3_ablation                   # [5, 3, 4]
    python benchmarks/scale_ladder.py --claim npad.vs_padim_patchcore_real --seed-from /work/after/_cache/results
                                                                                          # [28 (19 seeded), 5, 20]

Progress: one line per rung (its estimate, then its wall time and effects) and the runner's log lines.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--claim", nargs="+", default=["all"], help="claim ids, or all")
    ap.add_argument("--rungs", nargs="*", default=None, help="rung ids (default: every declared rung)")
    ap.add_argument("--data-root", default=None, help="where MTD lies (default: DEFECTBOOK_DATA)")
    ap.add_argument("--bundle", default=None, help="bundle folder (default: bundles/scale; --tiny: required)")
    ap.add_argument("--seed-from", default=None, help="another store whose records of a rung are copied in first")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--tiny", action="store_true", help="smoke-profile rungs of a few minutes (tests)")
    ap.add_argument("--list", action="store_true", help="print the ladders and their estimates, run nothing")
    a = ap.parse_args(argv)
    import torch

    from defectbook import DefectbookError
    from defectbook.analysis import scale
    from defectbook.utils import setup_logging

    ids = list(scale.CLAIMS) if a.claim == ["all"] else a.claim
    try:
        claims = [scale.claim(i) for i in ids]
    except DefectbookError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.list:
        for c in claims:
            print(f"\n{c.id}: {c.title}")
            print(scale.ladder_table(c).to_string(index=False))
        return 0
    if a.tiny and not a.bundle:
        print("error: --tiny writes a bundle of its own: name it with --bundle", file=sys.stderr)
        return 2
    if a.threads:
        torch.set_num_threads(a.threads)
    setup_logging()
    command = "python benchmarks/scale_ladder.py " + shlex.join(
        [x for x in (argv if argv is not None else sys.argv[1:])])
    t0 = time.perf_counter()
    done = scale.run_ladder(ids, a.rungs, a.bundle, "smoke" if a.tiny else "cpu", a.data_root, a.tiny, a.n_boot,
                            a.seed_from, command=command, say=lambda s: print(s, flush=True))
    ran = [d for d in done if d["status"] == "ran"]
    print(f"{len(ran)} rungs ran, {len(done) - len(ran)} skipped, in {(time.perf_counter() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
