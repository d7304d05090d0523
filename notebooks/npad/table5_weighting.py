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
# # N-pad Table 5: Bhattacharyya weights against uniform (1/n) and random weights
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Reproduces Table 5 of N-pad: how the neighbours are weighted when estimating the weighted Gaussians
# (module A). `uniform` gives every neighbour the same weight, `random` draws weights in (0, 1] (seeded),
# `bhattacharyya` uses the similarity of the neighbour's Gaussian (Eq. 4-5, `beta=0.25`). As in the
# paper, whose Table 5 values sit at its reduced setups' level (Table 3), not full N-pad's, the
# comparison runs in the ablation named by the profile's `weighting_ablation` (Table 3's Exper1: the
# weighted distribution A alone, the module the weights build).

# %% tags=["parameters"]
profile = "cpu"
data_root = None
seeds = None

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from defectbook.book import paper_values, plotting
from defectbook.book.report import provenance, show
from defectbook.methods.npad import ABLATIONS
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("npad", profile, data_root=data_root, seeds=seeds)
N, SYNTH, grid = S.grids, S.synthetic, S.configs   # grid(method, categories=..., real=..., **params): configs


records, rows = [], []
for w in N["weightings"]:
    recs = experiment.run_many(grid("npad", categories=N["ablation_categories"], weighting=w,
                                    **ABLATIONS[N["weighting_ablation"]]), desc=w)
    records += recs
    rows.append(experiment.frame(recs).assign(weighting=w))
df = pd.concat(rows)

# %%
table = df.groupby("weighting", sort=False)[["pixel_auroc", "image_auroc", "aupro"]].mean()
paper = paper_values.load("npad_table5_weighting").set_index("weighting")
table["pixel_auroc (paper)"] = paper["pixel_auroc"]
share = {w: [r.extras.get("centre_weight_share") for r in records if r.config["params"]["weighting"] == w]
         for w in N["weightings"]}
table["mean weight share of the centre"] = [float(np.mean(share[w])) for w in table.index]
show(table)
show(provenance(records))

# %%
fig, ax = plt.subplots(figsize=(5, 3))
plotting.metric_bars(df, "category", "pixel_auroc", hue="weighting", ax=ax, ylim=(0.5, 1.0))
plt.show()
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary: the paper finds Bhattacharyya weights above uniform ones (pixel AUROC).
from defectbook.book.report import claim_verdict, page_summary

page_summary(globals(), extra=claim_verdict(
    df, "weighting", "bhattacharyya", "uniform", "pixel_auroc", "Bhattacharyya weights above uniform ones, pixel AUROC (Table 5)"));
