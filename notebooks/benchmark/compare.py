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
# # Which method for these images?
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Every method of the book, each with its own chapter's settings, on one data set: a folder of your own
# images (the MVTec layout, or `normal/`, `abnormal/` and `masks/` folders) or one of the book's data sets.
# This page is what `defectbook compare ROOT` runs (`defectbook.analysis.compare`); papermill reruns it on
# another folder with `-p data_root=... -p category=...`. The layout, the image counts and the masks are
# checked before anything is trained; the runs go to the book's record store, so a rerun is instant.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None       # your folder (MVTec or folder layout), or the data root holding mtd/; None: DEFECTBOOK_DATA
category = None        # a category folder under data_root (MVTec layout); ELPV: mono or poly
dataset = "mtd"        # None: found from the folder's layout; mtd or elpv: that data set of the book
methods = None         # None: every method of the book
seeds = None           # None: the profile's seeds
fpr = 0.05             # false-positive rate on the defect-free test images that sets the threshold
cheapest = "predict"   # what "cheapest" means: predict (fastest prediction), fit (fastest fit) or memory
model_dir = None       # where to save the recommended model for `defectbook predict` (None: not saved)

# %%
import matplotlib.pyplot as plt

from defectbook.analysis import compare
from defectbook.book import plotting
from defectbook.book.report import page_summary, provenance, show
from defectbook.pipeline import spec

data = compare.user_data(data_root, category, dataset)
records = compare.run(compare.configs(profile, data, methods, seeds))
show(compare.data_text(data, records))
n_boot = spec.chapter("benchmark", profile).grids["bootstrap"]

# %% [markdown]
# ## Image AUROC, pixel AUROC and PRO
# Image AUROC (mean over seeds) with the bootstrap interval (`level=0.95`) of the first seed's run over its test
# images (`low`, `high`; resampled within each class); pixel AUROC and PRO (AUPRO up to `fpr_limit=0.3`) where
# the data have pixel masks and the method gives maps. Best image AUROC first.

# %%
table = compare.metric_table(records, n_boot)
show(table.drop(columns="method"))
show(provenance(records))

# %% [markdown]
# ## Every method against the best
# Image AUROC of each method minus that of the best, on the same test images (first seed), with a paired
# bootstrap interval (both AUROCs recomputed on every resample). *worse*: the whole interval lies below zero;
# *no difference shown*: it holds zero; the verdict is the interval's alone.

# %%
diffs = compare.differences(records, table["method"].iloc[0], n_boot)
show(diffs.drop(columns="method"))
show(provenance(records))

# %% [markdown]
# ## What each method costs
# Fit time and prediction speed (test images per second, the whole `predict`) from each record; memory: the
# resident set size of the process during fit and predict (`peak RSS`, which includes what the process held
# before, e.g. the methods run before it in the same process) and its rise above the start of the fit (`RSS
# added`: the method's own). Each method keeps its own chapter's image size.
# The backbone feature cache is off for these runs, so each time includes its own feature extraction
# (`features from cache` marks a record that found features computed earlier, e.g. reused from another page).

# %%
cost = compare.cost_table(records)
show(cost.drop(columns="method"))
show(provenance(records))

# %% [markdown]
# ## Recommendation and threshold
# The cheapest method (by `cheapest`) among the best and the methods not worse than it by their interval,
# and the score above which it calls an image defective: the threshold that flags at most `fpr` of the
# defect-free test images. It is chosen on those same images, so new defect-free images will be flagged
# somewhat more often.

# %%
rec = compare.recommend(table, diffs, cost, cheapest)
thr = compare.threshold(records, rec["method"], fpr)
show(compare.recommendation_text(rec, thr, table, data))
if model_dir:
    show(f"Saved for `defectbook predict {model_dir} IMAGES`: `{compare.save_model(records, rec, thr, model_dir)}`.")
show(provenance(records))

# %% [markdown]
# ## Anomaly maps of the leading methods
# The three best methods that give anomaly maps, on defective and defect-free test images (first seed); the
# ground truth outlined in white where there is one. One colour scale per method (its colour bar).

# %%
shown, names, titles = compare.examples(records, table)
if shown:
    plotting.map_panels(shown, names, titles)
    plt.show()
show(provenance(records) if shown else "No method of this run gives anomaly maps.")

# %% tags=["remove-cell"]
page_summary(records, extra=compare.recommendation_text(rec, thr, table, data))
