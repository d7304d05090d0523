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
# images (`defectbook.evaluation.metrics.auroc_interval`); pixel AUROC and PRO (AUPRO up to `fpr_limit=0.3`) where the data
# have masks (not ELPV). In the `cpu` profile the methods that train a network run on the profile's
# `expensive_data` only (a dash in the table: not run), to keep the chapter within its time budget.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None       # folder with mtd/ (and mvtec/ at paper); None: DEFECTBOOK_DATA
seeds = None           # None: the profile's seeds
methods = None         # None: every method of the book (the chapter's `compare` list)

# %%
import matplotlib.pyplot as plt
import pandas as pd

from defectbook.book import plotting
from defectbook.book.report import page_summary, provenance, show
from defectbook.config import data_label
from defectbook.evaluation.metrics import auroc_interval
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("benchmark", profile, data_root=data_root, seeds=seeds)
T, LABELS = S.grids, spec.LABELS
methods = methods or S.compare
pairs = S.pairs()


def runs_on(method, dataset, category):
    """Expensive (trained) methods run on the profile's `expensive_data` only; the others everywhere."""
    where = T["expensive_data"]
    return method not in T["expensive"] or where == "all" or data_label({"dataset": dataset, "category": category}) in where


configs = [S.config(m, d, c, seed=s) for m in methods for d, c in pairs for s in S.seeds if runs_on(m, d, c)]
records = experiment.run_many(configs, desc="all methods")
df = experiment.frame(records)
df["data"] = [data_label(r.config) for r in records]
df["model"] = df["method"].map(LABELS)
order = [LABELS[m] for m in methods if LABELS[m] in set(df["model"])]

# %% [markdown]
# ## Image AUROC with bootstrap intervals
# Rows: data set; columns: method. Each cell is the image AUROC (mean over seeds) and the (`level=0.95`)
# bootstrap interval of the first seed's run over its test images (`bootstrap` resamples, stratified
# by class); "—": the method did not run on that data set in this profile.

# %%
cell = {}
for r in records:
    k = (data_label(r.config), LABELS[r.config["method"]])
    if k not in cell:
        ci = auroc_interval(r.labels, r.scores, n_boot=T["bootstrap"])
        cell[k] = (ci["low"], ci["high"])
mean = df.pivot_table(index="data", columns="model", values="image_auroc", aggfunc="mean")[order]
text = mean.copy().astype(object)
for (d, m), (lo, hi) in cell.items():
    text.loc[d, m] = f"{mean.loc[d, m]:.3f} [{lo:.2f}, {hi:.2f}]"
show(text.fillna("—").rename_axis(columns=None))
n_test = df.groupby("data")[["n_test"]].first() if "n_test" in df else None
show("Test images per data set (defective): " + ", ".join(
    f"{data_label(r.config)} {len(r.labels)} ({sum(r.labels)})" for r in
    {data_label(r.config): r for r in records}.values()) + ".")
show(provenance(records))

# %% [markdown]
# ## Pixel AUROC and PRO (data sets with masks)

# %%
masked = df[df["pixel_auroc"].notna()]
if len(masked):
    for metric, title in (("pixel_auroc", "Pixel AUROC"), ("aupro", "PRO (AUPRO, FPR <= 0.3)")):
        show(f"**{title}** (rows: data set; columns: method; —: no maps, or not run)")
        show(masked.pivot_table(index="data", columns="model", values=metric, aggfunc="mean")
             .reindex(columns=[m for m in order if m in set(masked["model"])]).rename_axis(columns=None))
    no_maps = sorted({LABELS[m] for m in df["method"]} - set(masked["model"]))
    show("Methods without anomaly maps (image scores only): " + (", ".join(no_maps) or "none") + ". "
         "ELPV has no masks: its pixel metrics are not available.")
else:
    show("No data set of this run has pixel masks: pixel metrics are not available.")
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
full = mean.dropna(axis=0, how="any")
if len(full):
    rank = pd.DataFrame({"mean rank": full.rank(axis=1, ascending=False).mean(), "mean image AUROC": full.mean()})
    rank = rank.sort_values("mean rank")
    show(rank)
    show(f"Over {len(full)} data set(s): {', '.join(full.index)}.")
else:
    rank = pd.DataFrame()
    show("No data set on which every method ran.")

# %% tags=["remove-cell"]
best = (f" Best mean rank: {rank.index[0]} ({rank['mean image AUROC'].iloc[0]:.3f} mean image AUROC over "
        f"{len(full)} data set(s) where all methods ran)." if len(rank) else "")
page_summary(globals(), extra=f"{len(order)} methods, one protocol.{best}")
