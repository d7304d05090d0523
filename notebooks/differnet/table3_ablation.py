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
# # DifferNet Table 3: configurations A-G
#
# ```{glue:md} summary
# :format: myst
# ```
#
# DifferNet's Table 3 varies three parts of the pipeline and reports the mean image AUROC over
# MVTec AD: multi-scale features (3 scales vs the full-size image only), transforms in training
# (random rotations vs none) and the number of test transforms (1, 4, 16, 64). Configurations
# (reconstructed from Sec. 4.5, see the paper-values file): A single scale, no training transforms,
# 1 test transform; B single scale, training transforms, 64; C multi-scale, no training transforms,
# 1; D multi-scale, training transforms, 1; E/F/G as D with 4/16/64 test transforms. Our test
# transforms are fixed evenly spaced rotations; the `cpu` profile uses fewer of them (see the table)
# and synthetic categories in place of MVTec.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None       # folder holding mvtec/; None: DEFECTBOOK_DATA
seeds = None           # None: the profile's seeds
categories = None      # None: the profile's ablation categories

# %%
import matplotlib.pyplot as plt
import pandas as pd

from defectbook.book import paper_values
from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("differnet", profile, data_root=data_root, seeds=seeds)
F = S.grids
base = S.params("differnet")
single = [1.0]
e, f, g = F["ablation_test_transforms"]
variants = {
    "A": {"scales": single, "train_transforms": False, "test_transforms": 1},
    "B": {"scales": single, "train_transforms": True, "test_transforms": g},
    "C": {"scales": base["scales"], "train_transforms": False, "test_transforms": 1},
    "D": {"scales": base["scales"], "train_transforms": True, "test_transforms": 1},
    "E": {"scales": base["scales"], "train_transforms": True, "test_transforms": e},
    "F": {"scales": base["scales"], "train_transforms": True, "test_transforms": f},
    "G": {"scales": base["scales"], "train_transforms": True, "test_transforms": g},
}
cats = categories if categories is not None else F["ablation_categories"]
configs, variant_of = [], []
for name, v in variants.items():
    for c in S.configs("differnet", categories=cats, save_maps=0, **v, snapshots=0):
        configs.append(c)
        variant_of.append(name)
records = experiment.run_many(configs, desc="differnet table 3")

# %% [markdown]
# ## Mean image AUROC per configuration beside the paper

# %%
df = experiment.frame(records)
df["config"] = variant_of
per_cat = df.pivot_table(index=["dataset", "category"], columns="config", values="image_auroc", aggfunc="mean")
show(per_cat)
paper = paper_values.load("differnet_table3_ablation", scale=1.0).set_index("config")
out = pd.DataFrame({
    "multi-scale": ["yes" if len(variants[c]["scales"]) > 1 else "no" for c in variants],
    "train transforms": ["yes" if variants[c]["train_transforms"] else "no" for c in variants],
    "test transforms (ours)": [variants[c]["test_transforms"] for c in variants],
    "test transforms (paper)": paper["test_transforms"].reindex(list(variants)).values,
    "ours (mean AUROC)": per_cat.mean().reindex(list(variants)).values,
    "paper (MVTec mean)": (paper["image_auroc"] / 100).reindex(list(variants)).values,
}, index=list(variants))
show(out)
show(provenance(records))

# %%
ax = out[["ours (mean AUROC)", "paper (MVTec mean)"]].plot.bar(figsize=(6, 3), rot=0)
ax.set_ylim(0.5, 1.0); ax.set_ylabel("image AUROC"); ax.set_title("DifferNet configurations A-G")
plt.tight_layout(); plt.show()
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary and verdict: configuration G (multi-scale, training and 64 test transforms) above A.
from defectbook.book.report import claim_verdict, page_summary

page_summary(globals(), extra=claim_verdict(
    df, "config", "G", "A", "image_auroc",
    "the full configuration G (multi-scale, training transforms, most test transforms) above A (single scale, "
    "no transforms) (Table 3)", paper_effect=float(paper.loc["G", "image_auroc"] - paper.loc["A", "image_auroc"]) / 100));
