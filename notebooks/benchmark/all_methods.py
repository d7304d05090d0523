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
# # Every method on the same data
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Every detector of the book, each with its own chapter's settings (backbone, image size, training
# schedule), on the same data sets and splits: the synthetic categories of the profile, ELPV solar
# cells (mono- and polycrystalline, image labels only: the defect-free cells train, the held-out
# defect-free cells and the cells with defect probability >= 2/3 test; see `defectbook.data.elpv`) and
# MTD where it is found under the data root. Image AUROC with a bootstrap interval (`level=0.95`) over the test
# images (`defectbook.evaluation.metrics.auroc_interval`); pixel AUROC and PRO (AUPRO up to `fpr_limit=0.3`) where the
# data have masks (not ELPV). In the `cpu` profile the methods that train a network run on the profile's
# `expensive_data` only (a dash in the table: not run), to keep the chapter's build time on two CPU cores in bounds.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None       # folder with mtd/ (and mvtec/ at paper); None: DEFECTBOOK_DATA
seeds = None           # None: the profile's seeds
methods = None         # None: every method of the book (the chapter's `compare` list)

# %%
import matplotlib.pyplot as plt

from defectbook.analysis import benchmark
from defectbook.book import plotting
from defectbook.book.report import page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("benchmark", profile, data_root=data_root, seeds=seeds)
methods = methods or chapter.compare
records = experiment.run_many(benchmark.comparison_configs(chapter, methods), desc="all methods")
df = benchmark.comparison_frame(records)
order = benchmark.method_order(methods, df)

# %% [markdown]
# ## Image AUROC with bootstrap intervals
# Rows: data set; columns: method. Each cell is the image AUROC (mean over seeds) and the (`level=0.95`)
# bootstrap interval of the first seed's run over its test images (`bootstrap` resamples, stratified
# by class); "—": the method did not run on that data set in this profile.

# %%
mean = df.pivot_table(index="data", columns="model", values="image_auroc", aggfunc="mean")[order]
show(benchmark.auroc_cells(records, mean, chapter.grids["bootstrap"]))
show(benchmark.test_sizes_text(records))
show(provenance(records))

# %% [markdown]
# ## Pixel AUROC and PRO (data sets with masks)

# %%
pixel = benchmark.pixel_tables(df, order)
for heading, pixel_table in pixel.items():
    show(heading)
    show(pixel_table)
show(benchmark.no_maps_text(df) if pixel
     else "No data set of this run has pixel masks: pixel metrics are not available.")
show(provenance(records))

# %% [markdown]
# ## Per data set, every method (bars: mean over seeds)

# %%
fig, ax = plt.subplots(figsize=(11, 3.4))
lims = (max(0.0, min(0.4, df["image_auroc"].min() - 0.05)), 1.0)
plotting.metric_bars(df.assign(method=df["model"]), "data", "image_auroc", hue="method", ax=ax, ylim=lims,
                     title="image AUROC")
plt.tight_layout()
plt.show()
show(provenance(records))

# %% [markdown]
# ## Rank of each method
# Mean rank of the image AUROC over the data sets where every method ran (1 = best), beside the mean
# AUROC there.

# %%
rank = benchmark.rank_table(mean)
if len(rank):
    show(rank)
    show(f"Over {len(mean.dropna())} data set(s): {', '.join(mean.dropna().index)}.")
else:
    show("No data set on which every method ran.")

# %% tags=["remove-cell"]
page_summary(records, extra=benchmark.comparison_summary(rank, mean, len(order)))
