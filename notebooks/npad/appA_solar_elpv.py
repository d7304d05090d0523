# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # N-pad Appendix A on a second real data set: ELPV solar cells
#
# ```{glue:md} summary
# :format: myst
# ```
#
# N-pad's Appendix A compares N-pad with PaDiM and PatchCore on one real data set besides MVTec AD, Magnetic
# Tile Defects ({doc}`the MTD page <appA_mtd>`). This page runs the same three detectors with the same
# settings on a second one the paper does not use: ELPV, electroluminescence images of solar cells
# (Buerhop-Lutz et al. 2018, Deitsch et al. 2019), installed offline by the PyPI package `elpv-dataset`.
# The cells carry the experts' defect probability and no pixel masks, so only image AUROC is measured.
# Protocol (`defectbook.data.elpv`): four fifths of a category's defect-free cells (p = 0) train, the other
# fifth and the cells with p >= 2/3 test; the possibly-defective cells (p = 1/3) are left out. Mono- and
# polycrystalline cells look different and are separate categories: the `cpu` profile runs mono cells
# (`datasets.elpv.categories` in `profiles/npad.yaml`), the `paper` profile both.

# %% tags=["parameters"]
profile = "cpu"
data_root = None
seeds = None
methods = ["padim", "patchcore", "npad"]
n_boot = 2000     # bootstrap resamples of the paired differences

# %%
import matplotlib.pyplot as plt
import seaborn as sns

from defectbook.book.report import differences_view, provenance, show
from defectbook.evaluation.stats import method_differences, pair_effect
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("npad", profile, data_root=data_root, seeds=seeds)
names = {"padim": "PaDiM", "patchcore": "PatchCore", "npad": "N-pad"}

configs = [c for m in methods for c in S.configs(m, categories=[], real=["elpv"])]
records = experiment.run_many(configs, desc="ELPV")
df = experiment.frame(records)

# %% [markdown]
# ## Image AUROC per method
# One row per category and seed; the interval is a bootstrap (`level=0.95`) over the test images (resampled within
# each class), how much the AUROC of this many test images moves by sampling alone.

# %%
from defectbook.evaluation.metrics import auroc_interval

if len(df):
    rows = []
    for r in records:
        ci = auroc_interval(r.labels, r.scores, n_boot=n_boot)
        split = r.extras.get("split", {})
        rows.append({"data": f"ELPV {r.config['category']}", "seed": r.config["seed"], "method": names[r.config["method"]],
                     "image AUROC": ci["auroc"], "95 % low": ci["low"], "95 % high": ci["high"],
                     "training cells": split.get("n_train"), "test cells": len(r.labels),
                     "defective test cells": int(sum(r.labels))})
    import pandas as pd

    table = pd.DataFrame(rows)
    show(table, index=False)
    show(provenance(records))
else:
    show("ELPV was not found (the PyPI package `elpv-dataset` is not installed), so nothing was computed.")
    show(provenance(records))

# %% [markdown]
# ## The differences, with their intervals
# Each method minus another on the same test cells, with a paired bootstrap (`level=0.95`) interval (test cells
# resampled within each class, both AUROCs recomputed on every resample) and the verdict it gives for the
# ordering of N-pad's paper on MTD (N-pad > PatchCore > PaDiM): *reproduced* when the whole interval lies
# above zero, *reversed* below, *undecided* when it holds zero.

# %%
pairs = [("npad", "padim"), ("npad", "patchcore"), ("patchcore", "padim")]
diffs = method_differences(records, pairs, n_boot=n_boot)
if len(diffs):
    view = differences_view(diffs, names, ("data", "seed", "comparison", "AUROC a", "AUROC b", "difference", "low",
                                           "high", "word"), data=[d.replace("elpv:", "ELPV ") for d in diffs.data])
    show(view, index=False)
    fig, ax = plt.subplots(figsize=(6.5, 0.6 + 0.45 * len(view)))
    y = range(len(view))
    label = [f"{c} ({d})" for c, d in zip(view.comparison, view.data)]
    d, lo, hi = view["image AUROC difference"], view["95 % low"], view["95 % high"]
    ax.errorbar(d, list(y), xerr=[d - lo, hi - d],
                fmt="o", color=sns.color_palette()[0], capsize=3)
    ax.axvline(0, color="0.4", lw=1, ls="--")
    ax.set_yticks(list(y), label)
    ax.invert_yaxis()
    ax.set_xlabel("difference of image AUROC (95 % paired bootstrap)")
    ax.set_title("ELPV: one method minus another on the same test cells")
    plt.tight_layout()
    plt.show()
    show(provenance(records))
else:
    show("No pair of methods on ELPV to compare.")

# %% tags=["remove-cell"]
# Page summary and verdict: the paper's ordering on MTD (N-pad above PaDiM), asked of ELPV.
from defectbook.book.report import page_summary, verdict

effect = pair_effect(diffs, "npad", "padim")
page_summary(globals(), extra="**Paper (on MTD, asked here of ELPV):** N-pad above PaDiM, image AUROC. " + verdict(
    effect, f"N-pad minus PaDiM on {effect.get('data', 'ELPV').replace('elpv:', 'ELPV ')}, image AUROC, paired bootstrap over the test cells"));
