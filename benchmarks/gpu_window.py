"""A GPU window: each claim's next rung (towards the papers' scale, where weights allow) on one GPU within
a time budget, into a results bundle that the "At larger scale" pages draw (``bundles/gpu``).

The rungs are the ``next_rung`` of each claim in :mod:`defectbook.analysis.scale` (TrustMAE at 256 px,
width 32 with its GAN loss; NDP-Net at 256 px, 400 + 200 epochs; DifferNet at 448 px, width 2048, 192
epochs; N-pad at 224 px on the whole splits), less what needs ImageNet weights that are absent
(:func:`~defectbook.analysis.scale.weights_allow`: a backbone other than the bundled efficientnet_lite0,
TrustMAE's VGG-19 loss); NDP-Net and TrustMAE train from scratch. Claims run in ``--claim``'s order
(default: the cheapest first); no rung starts once ``--budget-s`` is spent or when its estimated GPU
minutes (``gpu_est_min``) would overrun it (a started rung runs to its end), so a 10-minute window is
``--budget-s 480`` or so. Finished rungs are skipped (resumable): a later window continues the bundle.

On a lent GPU machine (the working tree travels, so ``bundles/gpu`` resumes; ``$OUT`` comes back)::

    export PYTHONPATH=$PWD/src DEFECTBOOK_OFFLINE=1
    python benchmarks/gpu_window.py --bundle bundles/gpu --data-root DIR --budget-s 480; cp -r bundles/gpu $OUT/

    python benchmarks/gpu_window.py --tiny --bundle /tmp/gpu-tiny        # on CPU: smoke-sized, a minute or two

Copy the returned bundle into the repository's ``bundles/gpu`` and commit it; the pages then show the rung
after the 2-core ladder's, with the GPU named in the figure's note. MTD must be on the GPU machine (``--data-root``);
ELPV comes with its Python package.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time

#: cheapest first (by the rungs' ``gpu_est_min``): N-pad, TrustMAE (its clean claim reuses the noise runs),
#: DifferNet, then NDP-Net
ORDER = ["npad.vs_padim_patchcore_real", "trustmae.noise_robustness", "trustmae.clean_auroc_vs_memae",
         "differnet.flow_vs_knn_ocsvm_mtd", "ndpnet.pixel_auroc_vs_reconstruction", "ndpnet.table6_switches",
         "differnet.table3_ablation"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--claim", nargs="+", default=ORDER)
    ap.add_argument("--bundle", default=None, help="bundle folder (default: bundles/gpu)")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--budget-s", type=float, default=480.0, help="no rung starts after this many seconds")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--tiny", action="store_true", help="smoke-profile rungs on CPU (a test of this script)")
    a = ap.parse_args(argv)
    import torch

    from defectbook.analysis import scale
    from defectbook.pipeline import bundle
    from defectbook.utils import setup_logging

    setup_logging()
    device = "cuda" if torch.cuda.is_available() and not a.tiny else "cpu"
    if device == "cpu" and not a.tiny:
        print("no GPU here: run with --tiny to test the script on CPU", file=sys.stderr)
        return 2
    root = a.bundle or bundle.default_root(bundle.GPU)
    command = "python benchmarks/gpu_window.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    t0 = time.perf_counter()
    next_ids = [scale.claim(c).next_rung.id for c in a.claim]
    done = []
    for cid, rid in zip(a.claim, next_ids):
        done += scale.run_ladder([cid], [rid], root, "smoke" if a.tiny else "cpu", a.data_root, a.tiny, a.n_boot,
                                 budget_s=a.budget_s, device=device, command=command, started=t0,
                                 say=lambda s: print(s, flush=True), rung_of=lambda c, r: scale.weights_allow(r))
    ran = [d for d in done if d["status"] == "ran"]
    print(f"{len(ran)} rungs ran on {device}, {len(done) - len(ran)} not; {(time.perf_counter() - t0) / 60:.1f} min; "
          f"bundle {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
