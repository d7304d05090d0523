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

from defectbook import experiment, plotting, profiles
from defectbook.report import provenance, show

P = profiles.load(profile)
F = P["differnet"]
sizes = shots or F["shots"]
n_sub = subsets or F["subsets"]
cats = categories if categories is not None else F["fewshot_categories"]
configs = []
for n in sizes:
    split = {"kind": "few_shot", "n": n}
    configs += experiment.configs_for(P, "differnet", split=split, seeds=list(range(n_sub)), categories=cats,
                                      real=[], transform=F["transform"], save_maps=0)
    for ds, cat in experiment.available_real([r for r in F["fewshot_real"] if r == "mtd"], data_root):
        cap = {"max_test": 4 * P["real_max_train"]} if P.get("real_max_train") else {}
        for s in range(n_sub):
            configs.append({"method": "differnet", "params": {**F["params"], "jitter": F["mtd_jitter"]},
                            "dataset": ds, "category": cat, "data": {}, "split": {**split, **cap}, "seed": s,
                            "transform": F["mtd_transform"], "profile": profile, "save_maps": 0,
                            "data_root": str(data_root) if data_root else None})
for c in configs:
    c["params"] = {**c["params"], "snapshots": 0}
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
