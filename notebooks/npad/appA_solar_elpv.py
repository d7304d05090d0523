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

from defectbook.analysis.npad import ORDER_PAIRS, auroc_interval_table
from defectbook.book import plotting
from defectbook.book.report import differences_view, provenance, show
from defectbook.evaluation.stats import method_differences
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("npad", profile, data_root=data_root, seeds=seeds)
configs = [c for m in methods for c in chapter.configs(m, categories=[], real=["elpv"])]
records = experiment.run_many(configs, desc="ELPV")

# %% [markdown]
# ## Image AUROC per method
# One row per category and seed; the interval is a bootstrap (`level=0.95`) over the test images (resampled within
# each class), how much the AUROC of this many test images moves by sampling alone.

# %%
if records:
    show(auroc_interval_table(records, n_boot=n_boot), index=False)
else:
    show("ELPV was not found (the PyPI package `elpv-dataset` is not installed), so nothing was computed.")
show(provenance(records))

# %% [markdown]
# ## The differences, with their intervals
# Each method minus another on the same test cells, with a paired bootstrap (`level=0.95`) interval (test cells
# resampled within each class, both AUROCs recomputed on every resample) and the verdict it gives for the
# ordering of N-pad's paper on MTD (N-pad > PatchCore > PaDiM): *agrees* when the whole interval lies
# above zero, *disagrees* below, *undecided* when it holds zero.

# %%
diffs = method_differences(records, ORDER_PAIRS, n_boot=n_boot)
if len(diffs):
    view = differences_view(diffs, spec.LABELS, ("data", "seed", "comparison", "AUROC a", "AUROC b", "difference",
                                                 "low", "high", "word"),
                            data=[d.replace("elpv:", "ELPV ") for d in diffs.data])
    show(view, index=False)
    plotting.difference_intervals(view, "ELPV: one method minus another on the same test cells")
    plt.show()
    show(provenance(records))
else:
    show("No pair of methods on ELPV to compare.")

# %% tags=["remove-cell"]
# Page summary and verdict: the paper's ordering on MTD (N-pad above PaDiM), asked of ELPV.
from defectbook.book.report import claim_verdict, page_summary

page_summary(records, extra=claim_verdict("npad.elpv_vs_padim", experiment.frame(records), records, n_boot=n_boot));
