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
# # Every method against the number of training images
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Each method is trained on `shots` defect-free images drawn (seeded) from the training set of one
# category (the few-shot split of `defectbook.data.splits.few_shot`; the test set does not change) and
# scored by image AUROC; the last point of each curve is the whole training set (the clean split: the
# same runs as on the comparison page). N-pad's and DifferNet's few-shot pages study their own method; this page puts
# every method of the book on the same axis, each with its own chapter's settings.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None       # folder with mvtec/ (paper profile); None: DEFECTBOOK_DATA
seeds = None           # None: the profile's seeds
shots = None           # training-set sizes; None: the profile's
methods = None         # None: every method of the book

# %%
import matplotlib.pyplot as plt

from defectbook.analysis import benchmark
from defectbook.book import plotting
from defectbook.book.report import page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("benchmark", profile, data_root=data_root, seeds=seeds)
methods = methods or chapter.compare
category = chapter.grids["shots_category"]
pairs = chapter.categories(category if category == "all" else [category])
sizes = shots if shots is not None else chapter.grids["shots"]
records = experiment.run_many(benchmark.fewshot_configs(chapter, methods, pairs, sizes), desc="few-shot")
df = benchmark.training_size_frame(records)
order = [spec.LABELS[m] for m in methods]

# %% [markdown]
# ## Image AUROC per number of training images (mean over categories and seeds)

# %%
ours = df.pivot_table(index="n_train", columns="model", values="image_auroc", aggfunc="mean")[order]
show(ours.rename_axis(index="training images", columns=None))
show(benchmark.data_text(pairs, records))
show(provenance(records))

# %% [markdown]
# ## The curves

# %%
fig, ax = plt.subplots(figsize=(8, 3.6))
plotting.curves(df.assign(method=df["model"]), "n_train", "image_auroc", hue="method", ax=ax,
                title="image AUROC against the number of training images")
ax.set_xscale("log")
ax.set_xlabel("training images (log scale)")
plt.tight_layout()
plt.show()
show(provenance(records))

# %% [markdown]
# ## How much of the full-data AUROC the fewest images reach

# %%
gain = benchmark.share_reached(ours)
show(gain)

# %% tags=["remove-cell"]
page_summary(records, extra=benchmark.fewshot_summary(gain, ours))
