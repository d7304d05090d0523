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
levels = noise if noise is not None else T["noise"]
cats = S.categories(T["noise_category"] if T["noise_category"] == "all" else [T["noise_category"]])


def noisy_config(m, d, c, s, r):
    cfg = S.config(m, d, c, seed=s, split=S.noisy(r))
    if d == "synthetic":   # the TrustMAE chapter's synthetic data: enough defective images to move into training
        cfg["data"] = spec.synthetic_data(S.P, T["noise_data"])
    return cfg


configs = [noisy_config(m, d, c, s, r) for m in methods for d, c in cats for r in levels for s in S.seeds]
records = experiment.run_many(configs, desc="noise robustness")
df = experiment.frame(records)
df["noise"] = df["noise"].fillna(0.0)
df["model"] = df["method"].map(LABELS)
df["achieved"] = [r.extras["split"].get("noise_ratio", 0.0) for r in records]
order = [LABELS[m] for m in methods]

# %% [markdown]
# ## Image AUROC per noise level (mean over categories and seeds)

# %%
ours = df.pivot_table(index="noise", columns="model", values="image_auroc", aggfunc="mean")[order]
show(ours.rename_axis(columns=None))
show("Achieved defective share of the training set per level: " + ", ".join(
    f"{n:.0%} → {a:.0%}" for n, a in df.groupby("noise")["achieved"].mean().items()) +
    f"; test images per run: {sorted({len(r.labels) for r in records})} (one fixed test set).")
show(provenance(records))

# %% [markdown]
# ## The curves

# %%
fig, ax = plt.subplots(figsize=(8, 3.6))
plotting.curves(df.assign(noise=100 * df["noise"], method=df["model"]), "noise", "image_auroc", hue="method", ax=ax,
                title=f"image AUROC against training noise ({', '.join(data_label({'dataset': d, 'category': c}) for d, c in cats)})")
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
lo, hi = min(levels), max(levels)
summary = pd.DataFrame({f"AUROC at {lo:.0%}": ours.loc[lo], f"AUROC at {hi:.0%}": ours.loc[hi],
                        "drop": ours.loc[lo] - ours.loc[hi]})
spread = {}
for r in records:
    key = (LABELS[r.config["method"]], r.config["split"]["ratio"])
    if key[1] in (lo, hi) and key not in spread:
        ci = auroc_interval(r.labels, r.scores, n_boot=T["bootstrap"])
        spread[key] = f"[{ci['low']:.3f}, {ci['high']:.3f}]"
for n in (lo, hi):
    summary[f"95 % interval at {n:.0%}"] = [spread.get((m, n), "") for m in summary.index]
summary = summary.sort_values("drop")
show(summary)
show(provenance(records))

# %% tags=["remove-cell"]
page_summary(globals(), extra=(f"Smallest drop from {lo:.0%} to {hi:.0%} noise: {summary.index[0]} "
                               f"({summary['drop'].iloc[0]:+.3f}); largest: {summary.index[-1]} "
                               f"({summary['drop'].iloc[-1]:+.3f})."))
