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
# # DifferNet Fig. 7: AUROC against the number of training images
#
# ```{glue:md} summary
# :format: myst
# ```
#
# DifferNet's Fig. 7 trains on random subsets of the training set (three subsets per size, results
# averaged) for MTD and some MVTec AD categories and shows that a few dozen images suffice. We do
# the same: for each size, `subsets` random subsets (the experiment seed draws the subset), for the
# profile's synthetic categories and MTD where found. The test set is always the full one.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None       # folder holding mtd/ (and mvtec/); None: DEFECTBOOK_DATA
categories = None      # None: the profile's few-shot categories
shots = None           # training-set sizes; None: the profile's
subsets = None         # random subsets per size; None: the profile's (paper: 3)

# %%
import matplotlib.pyplot as plt

from defectbook.book import plotting
from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("differnet", profile, data_root=data_root)
F = S.grids
sizes = shots or F["shots"]
n_sub = subsets or F["subsets"]
cats = categories if categories is not None else F["fewshot_categories"]
configs = [c for n in sizes for c in S.configs("differnet", categories=cats, real=F["fewshot_real"], seeds=range(n_sub),
                                               split={"kind": "few_shot", "n": n}, save_maps=0, snapshots=0)]
records = experiment.run_many(configs, desc="differnet fig 7")

# %% [markdown]
# ## Image AUROC against training-set size (mean and std over the random subsets)

# %%
df = experiment.frame(records)
ax = plotting.curves(df, "shots", "image_auroc", "data", title="DifferNet: AUROC vs training images (Fig. 7)")
ax.set_xscale("log", base=2); ax.set_xlabel("training images")
plt.tight_layout(); plt.show()
show(df.pivot_table(index="data", columns="shots", values="image_auroc", aggfunc="mean"))
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary and verdict: AUROC rises with the number of training images (a few dozen suffice).
from defectbook.book.report import claim_verdict, page_summary

page_summary(globals(), extra=claim_verdict(
    df, "shots", df["shots"].max(), df["shots"].min(), "image_auroc",
    f"more training images raise the AUROC, with little gain past a few dozen (Fig. 7); ours: "
    f"{df['shots'].max()} against {df['shots'].min()} images, paired by data set and subset"));
