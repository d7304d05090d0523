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
import pandas as pd

from defectbook.book import plotting
from defectbook.book.report import page_summary, provenance, show
from defectbook.config import data_label
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("benchmark", profile, data_root=data_root, seeds=seeds)
T, LABELS = S.grids, spec.LABELS
methods = methods or S.compare
sizes = shots if shots is not None else T["shots"]
cats = S.categories(T["shots_category"] if T["shots_category"] == "all" else [T["shots_category"]])
configs = [S.config(m, d, c, seed=s, split={"kind": "few_shot", "n": n})
           for m in methods for d, c in cats for n in sizes for s in S.seeds]
configs += [S.config(m, d, c, seed=s) for m in methods for d, c in cats for s in S.seeds]   # the whole training set
records = experiment.run_many(configs, desc="few-shot")
df = experiment.frame(records)
df["model"] = df["method"].map(LABELS)
df["n_train"] = [r.extras["split"]["n_train"] for r in records]
order = [LABELS[m] for m in methods]

# %% [markdown]
# ## Image AUROC per number of training images (mean over categories and seeds)

# %%
ours = df.pivot_table(index="n_train", columns="model", values="image_auroc", aggfunc="mean")[order]
show(ours.rename_axis(index="training images", columns=None))
show(f"Data: {', '.join(data_label({'dataset': d, 'category': c}) for d, c in cats)}; "
     f"test images per run: {sorted({len(r.labels) for r in records})}.")
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
few, most = min(ours.index), max(ours.index)
gain = pd.DataFrame({f"AUROC with {few}": ours.loc[few], f"AUROC with {most}": ours.loc[most],
                     "share reached": ours.loc[few] / ours.loc[most]}).sort_values("share reached", ascending=False)
show(gain)

# %% tags=["remove-cell"]
page_summary(globals(), extra=(f"With {few} training images, {gain.index[0]} keeps the largest share of its "
                               f"AUROC at {most} ({gain['share reached'].iloc[0]:.2f})."))
