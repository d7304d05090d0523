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
# # N-pad Table 1: image and pixel AUROC per category, N-pad against PaDiM, PatchCore and SPADE
#
# Reproduces Table 1 of N-pad (Jang, Baek et al.): image-wise and pixel-wise AUROC of the
# pretrained-feature methods per category. In the `cpu` profile the categories are synthetic
# (MVTec-like textures and objects) and the backbone is the offline EfficientNet-Lite0, so our numbers
# are not the paper's; the paper's MVTec averages stand beside ours for scale. The `paper` profile runs
# MVTec AD with WRN-50 and joins the paper's values category by category. The flow-based columns of the
# paper (FastFlow, PEFM, CFLOW-AD) are shown as paper values only.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None       # folder with mtd/ and mvtec/; None: DEFECTBOOK_DATA
seeds = None           # None: the profile's seeds
methods = ["padim", "patchcore", "spade", "npad"]

# %%
import matplotlib.pyplot as plt
import pandas as pd

from defectbook import experiment, paper_values, plotting, spec
from defectbook.report import provenance, show

S = spec.chapter("npad", profile, data_root=data_root, seeds=seeds)
N, SYNTH, grid = S.grids, S.synthetic, S.configs   # grid(method, categories=..., real=..., **params): configs


records = experiment.run_many([c for m in methods for c in grid(m)], desc="table 1")
df = experiment.frame(records)

# %% [markdown]
# ## Image and pixel AUROC (mean over seeds)

# %%
names = {"padim": "PaDiM", "patchcore": "PatchCore", "spade": "SPADE", "npad": "N-pad"}
table = df.pivot_table(index="category", columns="method", values=["image_auroc", "pixel_auroc"], aggfunc="mean")
table.loc["mean"] = table.mean()
table = table.rename(columns=names)
paper = paper_values.load("npad_table1_auroc").set_index(["category", "method"])
avg = paper.xs("average", level="category")
for metric in ("image_auroc", "pixel_auroc"):
    for m in names.values():
        ref = paper[metric].unstack("method").get(m)
        table[(metric, f"{m} (paper)")] = (ref.reindex(table.index).values if not SYNTH else
                                           [float("nan")] * (len(table) - 1) + [avg.loc[m, metric]])
table = table.sort_index(axis=1)
table.columns = [f"{metric.split('_')[0]} · {m}" for metric, m in table.columns]
show(table.round(3).to_markdown())
show("Paper columns: MVTec AD with WRN-50 at 224 px (in the `cpu` profile only the paper's average is shown, "
     "in the `mean` row). SPADE and PaDiM print no image AUROC in the paper.")
show(provenance(records))

# %% [markdown]
# ## The paper's other columns (flow-based methods, paper values only)

# %%
flows = avg.loc[["FastFlow", "PEFM", "CFLOW-AD"]]
show(flows.round(4).to_markdown())

# %% [markdown]
# ## Per-category pixel AUROC

# %%
fig, ax = plt.subplots(1, 2, figsize=(9, 3))
plotting.metric_bars(df, "category", "image_auroc", hue="method", ax=ax[0], ylim=(0.4, 1.0), title="image AUROC")
plotting.metric_bars(df, "category", "pixel_auroc", hue="method", ax=ax[1], ylim=(0.4, 1.0), title="pixel AUROC")
plt.tight_layout()
plt.show()
show(provenance(records))
