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
# # Every method against defective images in training
#
# ```{glue:md} summary
# :format: myst
# ```
#
# TrustMAE's noisy protocol (its Fig. 4) applied to every method of the book: a share of the training
# set (`noise`, from `0.0` to `0.4`) is replaced by defective images, and every model is scored on **one fixed
# test set** for every level (`spec.Chapter.noisy`: the defective images that may move into training
# are set aside once, so the test images do not change with the level). The synthetic data are the
# TrustMAE chapter's (`noise_data`: it generates enough defective images to move), so the runs of its
# four models coincide with the records of its Fig. 4. Each method keeps its own chapter's settings.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None       # folder with mvtec/ (paper profile); None: DEFECTBOOK_DATA
seeds = None           # None: the profile's seeds
noise = None           # training noise levels; None: the profile's
methods = None         # None: every method of the book

# %%
import matplotlib.pyplot as plt

from defectbook.analysis import benchmark, trustmae
from defectbook.book import plotting
from defectbook.book.report import page_summary, provenance, show
from defectbook.config import data_label
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("benchmark", profile, data_root=data_root, seeds=seeds)
methods = methods or chapter.compare
levels = noise if noise is not None else chapter.grids["noise"]
category = chapter.grids["noise_category"]
pairs = chapter.categories(category if category == "all" else [category])
records = experiment.run_many(benchmark.noise_configs(chapter, methods, pairs, levels), desc="noise robustness")
df = benchmark.noise_frame(records)
order = [spec.LABELS[m] for m in methods]

# %% [markdown]
# ## Image AUROC per noise level (mean over categories and seeds)

# %%
ours = df.pivot_table(index="noise", columns="model", values="image_auroc", aggfunc="mean")[order]
show(ours.rename_axis(columns=None))
show(benchmark.achieved_text(df, records))
show(provenance(records))

# %% [markdown]
# ## The curves

# %%
fig, ax = plt.subplots(figsize=(8, 3.6))
plotting.curves(df.assign(noise=100 * df["noise"], method=df["model"]), "noise", "image_auroc", hue="method", ax=ax,
                title="image AUROC against training noise "
                      f"({', '.join(data_label({'dataset': d, 'category': c}) for d, c in pairs)})")
ax.set_xlabel("defective images in training (%)")
plt.tight_layout()
plt.show()
show(provenance(records))

# %% [markdown]
# ## Drop from the cleanest to the noisiest training set
# Per method: the image AUROC at the lowest and the highest level and the drop, beside the (`level=0.95`)
# bootstrap interval of each AUROC over the (fixed) test images of the first category and seed: a drop
# smaller than these intervals' width is within the noise of this test set.

# %%
summary = trustmae.drop_table(ours, records, levels, n_boot=chapter.grids["bootstrap"]).sort_values("drop")
show(summary)
show(provenance(records))

# %% tags=["remove-cell"]
page_summary(records, extra=benchmark.drop_summary(summary, levels))
