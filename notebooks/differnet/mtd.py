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
# # DifferNet on Magnetic Tile Defects (Table 2, Fig. 5, Fig. 6)
#
# ```{glue:md} summary
# :format: myst
# ```
#
# DifferNet's Table 2 reports image AUROC on Magnetic Tile Defects (MTD) for DifferNet, 1-NN and
# OCSVM (the paper's values are in the table below, from `paper_values`), the two baselines computed
# on DifferNet's own features. Fig. 5 shows the ROC curves
# and Fig. 6 the histogram of DifferNet's anomaly scores. This notebook recomputes all three with
# DifferNet's training split (the official list of training file names), the profile's backbone
# (the offline `efficientnet_lite0` at the `cpu` profile, AlexNet at `paper`) and the profile's
# flow size and epochs. We report the model after the **last** training epoch; the official code
# reports the best epoch measured on the test set, which we show only as a labelled extra column.
# Where MTD is not found under the data root, a synthetic texture stands in so the notebook still runs.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None       # folder holding mtd/; None: DEFECTBOOK_DATA
seeds = None           # None: the profile's seeds
epochs = None          # DifferNet training epochs; None: the profile's
test_transforms = None # fixed test rotations (1/4/16/64); None: the profile's
n_boot = 2000          # bootstrap resamples of the intervals and the paired differences

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from defectbook.book import paper_values, plotting
from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("differnet", profile, data_root=data_root, seeds=seeds, epochs=epochs, test_transforms=test_transforms)
if spec.available_real(["mtd"], data_root):
    dataset, category = "mtd", None
else:
    show("**MTD was not found under the data root** (set `DEFECTBOOK_DATA` or `data_root`): a synthetic "
         "texture stands in below, so these are *not* MTD numbers.")
    dataset, category = "synthetic", "weave"
methods = {"DifferNet": "differnet", "OCSVM": "ocsvm", "1-NN": "knn"}
configs = [S.config(m, dataset, category, seed=s, save_maps=0) for s in S.seeds for m in methods.values()]
records = experiment.run_many(configs, desc="differnet mtd")
name_of = {m: label for label, m in methods.items()}

# %% [markdown]
# ## Table 2: image AUROC beside the paper
# `ours` is the last epoch (mean over seeds). For DifferNet, `best epoch on test` picks, among the
# kept snapshots, the epoch with the highest test AUROC: this is model selection on the test set,
# as in the official code, shown only to explain the gap; it is not our result. `fit_s` of DifferNet
# includes the backbone features of the training bank; OCSVM and 1-NN run after it in the same
# process and reuse those memoised features, so their `fit_s` is the baseline alone.

# %%
def best_on_test(r):
    ex = r.extras
    if not ex.get("snapshot_scores"):
        return np.nan, None
    aucs = [roc_auc_score(r.labels, s) for s in ex["snapshot_scores"]]
    i = int(np.argmax(aucs))
    return aucs[i], ex["snapshot_epochs"][i]

rows = []
for r in records:
    best, at = best_on_test(r)
    rows.append({"method": name_of[r.config["method"]], "seed": r.config["seed"], "ours": r.metrics["image_auroc"],
                 "best epoch on test": best, "at epoch": at, "fit_s": r.timings["fit_s"],
                 "predict_images_per_s": r.timings["predict_images_per_s"]})
ours = pd.DataFrame(rows).groupby("method", sort=False).mean(numeric_only=True).drop(columns="seed")
paper = paper_values.load("differnet_table2_mtd").set_index("method")["image_auroc"]
ours.insert(1, "paper", paper.reindex(ours.index))
ours.insert(2, "Δ (ours - paper)", ours["ours"] - ours["paper"])
show(ours)
show(provenance(records))

# %% [markdown]
# ## The differences, with their intervals
# Each method's image AUROC with a `0.95` bootstrap interval (test images resampled within each class),
# and each difference the paper's Table 2 orders (DifferNet above 1-NN and above OCSVM) on the same test
# images with a paired bootstrap interval (both AUROCs recomputed on every resample), per seed.
# *reproduced*: the whole interval above zero; *reversed*: below; *undecided*: it holds zero.

# %%
from defectbook.book.report import differences_view, verdict
from defectbook.evaluation.metrics import auroc_interval
from defectbook.evaluation.stats import method_differences, pair_effect

cis = []
for r in records:
    ci = auroc_interval(r.labels, r.scores, n_boot=n_boot)
    cis.append({"method": name_of[r.config["method"]], "seed": r.config["seed"], "image AUROC": ci["auroc"],
                "95 % low": ci["low"], "95 % high": ci["high"], "test images": len(r.labels)})
show(pd.DataFrame(cis), index=False)
diffs = method_differences(records, [("differnet", "knn"), ("differnet", "ocsvm")], n_boot=n_boot)
if len(diffs):
    show(differences_view(diffs, name_of, ("seed", "difference", "low", "high", "word", "paper"),
                          paper=[paper.get(name_of[a], np.nan) - paper.get(name_of[b], np.nan)
                                 for a, b in zip(diffs.a, diffs.b)]), index=False)
show(provenance(records))

# %% [markdown]
# ## Fig. 5: ROC curves, and Fig. 6: histogram of DifferNet's scores
# The paper notes that about half of the defective tiles are found without any false positive; the figure's legend gives our
# AUROC and the printed line our recall at zero false positives.

# %%
first_seed = [r for r in records if r.config["seed"] == records[0].config["seed"]]
fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
for r in first_seed:
    plotting.roc(np.array(r.labels), np.array(r.scores), ax=ax[0], label=name_of[r.config["method"]])
ax[0].set_title("ROC (Fig. 5)")
dn = next(r for r in first_seed if r.config["method"] == "differnet")
s, y = np.array(dn.scores), np.array(dn.labels)
bins = np.linspace(s.min(), np.quantile(s, 0.98), 30)
ax[1].hist(np.clip(s[y == 0], None, bins[-1]), bins, density=True, alpha=0.6, label="defect-free")
ax[1].hist(np.clip(s[y == 1], None, bins[-1]), bins, density=True, alpha=0.6, label="defective")
ax[1].set_xlabel("anomaly score (mean z², last bin: all above)"); ax[1].set_title("DifferNet scores (Fig. 6)")
ax[1].legend(fontsize=7)
plt.tight_layout(); plt.show()
recall0 = (s[y == 1] > s[y == 0].max()).mean()
show(f"Recall at zero false positives (DifferNet, seed {dn.config['seed']}): **{recall0:.3f}** "
     f"({int((y == 0).sum())} defect-free, {int(y.sum())} defective test images).")
show(provenance(first_seed))

# %% [markdown]
# ## Training curve and test AUROC per kept epoch (DifferNet)
# The loss is the training NLL per dimension; the AUROC curve uses the test labels and is shown
# only to make the "best epoch on test" column transparent.

# %%
fig, ax = plt.subplots(1, 2, figsize=(9, 3))
ax[0].plot(range(1, len(dn.extras["loss"]) + 1), dn.extras["loss"]); ax[0].set_xlabel("epoch"); ax[0].set_ylabel("NLL / D")
if dn.extras.get("snapshot_scores"):
    ax[1].plot(dn.extras["snapshot_epochs"], [roc_auc_score(dn.labels, q) for q in dn.extras["snapshot_scores"]], "o-")
ax[1].set_xlabel("epoch"); ax[1].set_ylabel("test image AUROC")
plt.tight_layout(); plt.show()
show(provenance([dn], extra=f"flow parameters {dn.extras['flow_parameters']:,}, features {dn.extras['features']}"))

# %% [markdown]
# ## Image AUROC against cost (DifferNet)
# What holds DifferNet back on MTD at this profile, and what more compute buys: the profile's
# DifferNet beside the changes of the profile's `mtd_cost` grid, one at a time (empty at `cpu`, where the
# profile's own run already takes this page's time; the `paper` profile adds a larger image), each with its image AUROC (a `0.95`
# bootstrap interval over the test images) against the seconds its fit and predict took in this build.
# A change of the test rotations keeps the training bank, whose backbone features then come from the
# feature cache (`cache hits` > 0): they are counted once, in the profile's row, and the other rows'
# `fit + predict s` leave them out. The one-factor-at-a-time sweep at `cpu` (image size, backbone layer,
# feature scales, epochs, test rotations, training rotations, jitter, and their best combination) is
# `benchmarks/differnet_mtd_cost.py`, its output `benchmarks/differnet_mtd.md`: the test and the training
# rotations are the two factors that moved the AUROC, which is why the `cpu` profile uses 32 and 8 of them on MTD.

# %%
grid = S.grids["mtd_cost"]
if grid:
    base = next(c for c in configs if c["method"] == "differnet" and c["seed"] == dn.config["seed"])
    cost_configs = {}
    for label, change in grid.items():
        change = dict(change)
        size = change.pop("resize", None)
        tf = dict(base["transform"], resize=size) if size else None
        cost_configs[label] = S.config("differnet", dataset, category, seed=base["seed"], save_maps=0, transform=tf,
                                       **change)
    _cost = {"profile": dn, **dict(zip(cost_configs, experiment.run_many(cost_configs.values(),
                                                                                 desc="differnet mtd cost")))}
    cost = []
    for label, _r in _cost.items():
        ci = auroc_interval(_r.labels, _r.scores, n_boot=1000)
        p = _r.config["params"]
        cost.append({"setting": label, "image size": _r.config["transform"]["resize"],
                     "layer": "+".join([p["layer"]] if isinstance(p["layer"], str) else p["layer"]),
                     "test rotations": p["test_transforms"], "image AUROC": ci["auroc"], "low": ci["low"], "high": ci["high"],
                     "fit + predict s": _r.timings["fit_s"] + _r.timings["predict_s"],
                     "cache hits": _r.extras.get("feature_cache_hits", 0)})
    cost = pd.DataFrame(cost).set_index("setting")
    show(cost)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.errorbar(cost["fit + predict s"], cost["image AUROC"],
                yerr=[cost["image AUROC"] - cost["low"], cost["high"] - cost["image AUROC"]], fmt="o", capsize=3)
    for label, row in cost.iterrows():
        ax.annotate(label, (row["fit + predict s"], row["image AUROC"]), fontsize=7, xytext=(4, 4),
                    textcoords="offset points")
    ax.axhline(float(paper["DifferNet"]), ls="--", c="grey", lw=1, label="paper")
    ax.set_xlabel("fit + predict seconds (this build)"); ax.set_ylabel("image AUROC (last epoch)")
    ax.legend(fontsize=7); plt.tight_layout(); plt.show()
    show(provenance(list(_cost.values())))
else:
    show(f"The `{profile}` profile's `mtd_cost` grid is empty: the AUROC-against-cost curve at `cpu` is "
         "`benchmarks/differnet_mtd.md` (one factor at a time, paired bootstrap against the former `cpu` setting).")

# %% tags=["remove-cell"]
# Page summary and verdict: DifferNet above 1-NN on MTD (Table 2).
from defectbook.book.report import page_summary

effect = pair_effect(diffs, "differnet", "knn")
page_summary(globals(), extra=(
    f"**Paper:** DifferNet above 1-NN on Magnetic Tile Defects, image AUROC (Table 2; paper: "
    f"{paper['DifferNet'] - paper['1-NN']:+.3f}); ours on {dataset + (':' + category if category else '')}. "
    + verdict(effect, "DifferNet minus 1-NN, image AUROC, paired bootstrap over the test images (first seed)")));
