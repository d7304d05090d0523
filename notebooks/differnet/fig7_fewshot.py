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

from defectbook.analysis import differnet
from defectbook.book import plotting
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("differnet", profile, data_root=data_root)
configs = differnet.fewshot_configs(chapter, categories, shots, subsets)
records = experiment.run_many(configs, desc="differnet fig 7")

# %% [markdown]
# ## Image AUROC against training-set size (mean and std over the random subsets)

# %%
df = experiment.frame(records)
ax = plotting.curves(df, "shots", "image_auroc", "data", title="DifferNet: AUROC vs training images (Fig. 7)")
ax.set_xscale("log", base=2); ax.set_xlabel("training images")
plt.tight_layout(); plt.show()
show(differnet.fewshot_table(df))
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary and verdict: AUROC rises with the number of training images (a few dozen suffice).
page_summary(records, extra=claim_verdict("differnet.fig7_fewshot", records=records, **differnet.fewshot_claim(df)));
