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

from defectbook.analysis import differnet
from defectbook.book import paper_values
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("differnet", profile, data_root=data_root, seeds=seeds)
variants = differnet.ablation_variants(chapter.params("differnet")["scales"], chapter.grids["ablation_test_transforms"])
configs, variant_of = differnet.ablation_configs(chapter, variants, categories)
records = experiment.run_many(configs, desc="differnet table 3")

# %% [markdown]
# ## Mean image AUROC per configuration beside the paper

# %%
df = experiment.frame(records).assign(config=variant_of)
per_category = df.pivot_table(index=["dataset", "category"], columns="config", values="image_auroc", aggfunc="mean")
show(per_category)
paper = paper_values.load("differnet_table3_ablation", scale=1.0).set_index("config")
out = differnet.ablation_table(per_category, variants, paper)
show(out)
show(provenance(records))

# %%
ax = out[["ours (mean AUROC)", "paper (MVTec mean)"]].plot.bar(figsize=(6, 3), rot=0)
ax.set_ylim(0.5, 1.0); ax.set_ylabel("image AUROC"); ax.set_title("DifferNet configurations A-G")
plt.tight_layout(); plt.show()
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary and verdict: configuration G (multi-scale, training and 64 test transforms) above A.
page_summary(records, extra=claim_verdict(
    "differnet.table3_ablation", records=records, **differnet.ablation_claim(df, paper)));
