"""TrustMAE's central claim with enough test images to decide it.

D = TrustMAE's drop in image AUROC from the lowest to the highest training-noise level of the profile minus
a baseline's (AE-MSE, MemAE); the paper's effect is D < 0. The units are the (data, seed) pairs of the
TrustMAE chapter's Fig. 4 difference-of-drops grid (``grids.drop_categories``, ``drop_real``, ``drop_data``)
with seeds 0, 1, 2 where the page runs the profile's ``drop_seeds`` (override with the options), each unit
scored on one fixed test set at both levels. The interval is :func:`defectbook.analysis.trustmae.drop_difference`
(paired bootstrap over test images); a Student-t interval over the units' D is beside it, and D per data set.

    python benchmarks/trustmae_noise_power.py [--profile cpu] [--seeds 0 1 2] [--categories wood carpet]
        [--real mtd elpv] [--write benchmarks/trustmae_noise_power.md]

The configs, D, its units and D per data set are the fig4 notebook's (:mod:`defectbook.analysis.trustmae`:
``drop_configs``, ``drop_effects``, ``units_table``, ``per_data_table``), so the records are shared with it through the
store. ``--stored`` reports the records already there (a run stopped early: the grid runs seed by seed, so whole units
come first). Set ``DEFECTBOOK_DATA`` for MTD; one torch thread. Writes Markdown.
"""
from __future__ import annotations

import argparse
import sys
import time


def main(argv=None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                    help="default: 0 1 2 (the page: the profile's drop_seeds)")
    ap.add_argument("--categories", nargs="*", default=None, help="synthetic; default: the profile's drop_categories")
    ap.add_argument("--real", nargs="*", default=None, help="default: the profile's drop_real")
    ap.add_argument("--n-boot", type=int, default=None)
    ap.add_argument("--write", default=None)
    ap.add_argument("--stored", action="store_true", help="report the records already in the store, compute nothing")
    a = ap.parse_args(argv)
    import pandas as pd
    import torch

    torch.set_num_threads(1)
    from defectbook.analysis import trustmae
    from defectbook.book.report import table
    from defectbook.evaluation.stats import interval
    from defectbook.pipeline import run as experiment
    from defectbook.pipeline import spec
    from defectbook.pipeline.keys import key_of

    chapter = spec.chapter("trustmae", a.profile)
    levels = chapter.grids["noise"]
    lo, hi = min(levels), max(levels)
    seeds = a.seeds
    n_boot = a.n_boot or chapter.grids["bootstrap"]
    # unit by unit (seed, then data set), so that a run stopped early leaves whole units
    configs = trustmae.drop_configs(chapter, trustmae.DROP_MODELS, levels, seeds, a.categories, a.real)
    t0 = time.perf_counter()
    if a.stored:
        from defectbook.pipeline.store import Store

        records = [r for r in (Store().get(key_of(c)) for c in configs) if r is not None]
    else:
        records = experiment.run_many(configs, desc="noise power")
    wall = time.perf_counter() - t0
    fit = pd.DataFrame([{"method": r.config["method"], "data": r.config["dataset"], "fit_s": r.timings["fit_s"],
                         "predict_s": r.timings["predict_s"]} for r in records])
    out = [f"Output of `python benchmarks/trustmae_noise_power.py "
           f"{' '.join(argv if argv is not None else sys.argv[1:])}` "
           f"(profile {a.profile}, noise {lo:g} -> {hi:g}, seeds {', '.join(map(str, seeds))}, CPU, one torch thread; "
           f"{len(records)} of {len(configs)} records{' (stored ones only)' if a.stored else ''}, "
           f"{wall / 60:.1f} min in this call, fit time of all records "
           f"{fit['fit_s'].sum() / 60:.1f} min). D = TrustMAE's drop minus the baseline's; the paper's effect: D < 0. "
           f"Bootstrap: {n_boot} resamples of the test images (paired over the four runs of each unit).", ""]
    effects = trustmae.drop_effects(records, trustmae.DROP_MODELS, levels, n_boot)
    rows = []
    for b, e in effects.items():
        t = interval(e["units"]["D"]) if e["n"] else {"low": float("nan"), "high": float("nan")}
        rows.append({"baseline": spec.LABELS[b], "D": e["difference"], "bootstrap low": e["low"],
                     "bootstrap high": e["high"],
                     "width": e["width"], "t low (units)": t["low"], "t high (units)": t["high"], "units": e["n"],
                     "verdict": e["word"]})
    out += ["**D over all units**", "", table(pd.DataFrame(rows), index=False), "",
            "**D per data set** (bootstrap over its test images, mean over its seeds)", "",
            table(trustmae.per_data_table(effects, records, levels, n_boot), index=False), "",
            "**Per unit** (drops: AUROC at the lowest level minus the highest)", "",
            table(trustmae.units_table(effects, label_drops=False), index=False), "",
            "**Fit time per model and data set** (s, mean over the records)", "",
            table(fit.pivot_table(index="data", columns="method", values="fit_s", aggfunc="mean"), digits=1)]
    text = "\n".join(out) + "\n"
    if a.write:
        with open(a.write, "w") as fh:
            fh.write(text)
    print(text)
    return text


if __name__ == "__main__":
    main()
