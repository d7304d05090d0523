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
# # Appendix A, continued: why PatchCore fell below PaDiM on MTD
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Both N-pad's Appendix A and PatchCore's own evaluations put PatchCore well above PaDiM on Magnetic Tile
# Defects (the paper's row is on the MTD page; the summary above quotes its difference). An earlier `cpu` build of
# {doc}`the MTD page <appA_mtd>`, run on a seeded sample of 300 training and 300 test images, had PatchCore *below*
# PaDiM. This page looks for the cause by measurement, one factor at a time, on the whole MTD test set (191 defect-free
# and 392 defective tiles):
#
# - **the number of training images**: PatchCore and PaDiM trained on seeded subsets of DifferNet's
#   training list (`train_sizes`) and on the whole list;
# - **controls** (`controls`, at `control_train` training images): each changes one thing of PatchCore
#   against its reference run with the same training images: the memory bank kept whole instead of the
#   `coreset_ratio=0.1` coreset, the backbone layers, the image size (and so the feature stride on the tile).
#
# The grids are `patchcore_gap` in `profiles/npad.yaml`. The `cpu` profile runs the training-size curve and
# the full-memory-bank control (on 100 training images, where the whole bank is 10 times the coreset);
# the `paper` profile adds the layer controls on the whole split. Each control is a parameter of the page.

# %% tags=["parameters"]
profile = "cpu"
data_root = None
seeds = None
train_sizes = None     # training-set sizes besides the whole list, e.g. [100, 300]; None: the profile's
controls = None        # {name: {PatchCore params, or "transform": {...}}}; None: the profile's
n_boot = 2000          # bootstrap resamples of the paired differences

# %%
import matplotlib.pyplot as plt

from defectbook.analysis import npad as analysis
from defectbook.book import paper_values, plotting
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("npad", profile, data_root=data_root, seeds=seeds)
gap = chapter.grids["patchcore_gap"]
train_sizes = list(gap["train_sizes"] if train_sizes is None else train_sizes)
controls = dict(gap["controls"] if controls is None else controls)
control_train = gap.get("control_train")
methods = ["padim", "patchcore"]


def configs(method, n, transform=None, **change):   # on MTD with n training images (None: DifferNet's whole list)
    return chapter.configs(method, categories=[], real=["mtd"], split=analysis.mtd_split(n), transform=transform,
                           **change)


sizes = analysis.training_sizes(train_sizes)
runs = {(m, n): experiment.run_many(configs(m, n), desc=f"{spec.LABELS[m]}, {n or 'all'} training images")
        for m in methods for n in sizes}
records = analysis.records_of(runs)

# %% [markdown]
# ## AUROC against the number of training images
# Each point is one run on the whole test set, with a bootstrap (`level=0.95`) interval over the test images. The
# table gives PatchCore minus PaDiM at each size and each method's loss against its own run on the whole
# training list, with paired bootstrap (`level=0.95`) intervals (the same test images throughout).

# %%
curve = analysis.training_size_curve(runs, sizes, n_boot=n_boot)
if len(curve):
    show(curve[analysis.CURVE_VIEW], index=False)
    plotting.interval_curves(curve, "training images", [spec.LABELS[m] for m in methods],
                             "training images (seeded subsets of DifferNet's list; the last point is the whole list)",
                             "image AUROC (95 % bootstrap)", "MTD: image AUROC against the size of the training set")
    plt.show()
else:
    show("MTD was not found under the data root, so nothing was computed "
         "(set `DEFECTBOOK_DATA` or the `data_root` parameter).")
show(provenance(records))

# %% [markdown]
# ## Controls: one change to PatchCore at a time
# Each row changes one thing against PatchCore's reference run (the profile's settings) with the same
# training images, and gives the paired difference from that run and from PaDiM with the same training
# images and image size, both with paired bootstrap (`level=0.95`) intervals. The coreset row reports the memory
# size each run kept.

# %%
control_records = []
if controls and records:
    reference = experiment.run_many(configs("patchcore", control_train), desc="PatchCore reference")
    padim = experiment.run_many(configs("padim", control_train), desc="PaDiM reference")
    control_runs = {"reference (profile settings)": ({}, reference, padim)}
    for name, change in controls.items():
        change = dict(change)
        patchcore = experiment.run_many(configs("patchcore", control_train, **change), desc=name)
        transform = change.get("transform")
        control_runs[name] = (change, patchcore, padim if transform is None else experiment.run_many(
            configs("padim", control_train, transform=transform), desc=f"PaDiM, {name}"))
    control_records = [r for _, recs, pads in control_runs.values() for r in recs + pads]
    show(analysis.control_table(control_runs, n_boot=n_boot), index=False)
    show(provenance(control_records))
elif records:
    show(f"The `{profile}` profile runs no controls (`patchcore_gap.controls` is empty).")

# %% tags=["remove-cell"]
# Page summary and verdict: the literature puts PatchCore above PaDiM on MTD; judged on the whole training list.
paper = paper_values.load("npad_appA_mtd").set_index("method")
whole = runs.get(("patchcore", None), []) + runs.get(("padim", None), [])
page_summary(records + control_records, extra=claim_verdict(
    "npad.appA_patchcore_vs_padim", experiment.frame(whole), whole, n_boot=n_boot,
    paper_effect=analysis.paper_difference(paper, "patchcore", "padim")) + analysis.smallest_gap_sentence(curve));
