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
# # N-pad Appendix B: ratio of k-means centroids
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Reproduces Appendix B of N-pad: image AUROC as the number of k-means centroids (a fraction of all
# training feature vectors) shrinks (`kmeans_ratio` from `0.25` down to `0.005`). The centroids enter only the image score
# (Eq. 12-14), so the pixel maps do not change.

# %% tags=["parameters"]
profile = "cpu"
data_root = None
seeds = None

# %%
import matplotlib.pyplot as plt
import pandas as pd

from defectbook.book import paper_values, plotting
from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("npad", profile, data_root=data_root, seeds=seeds)
N, SYNTH, grid = S.grids, S.synthetic, S.configs   # grid(method, categories=..., real=..., **params): configs


records, rows = [], []
for r in N["kmeans_ratios"]:
    recs = experiment.run_many(grid("npad", categories=N["ablation_categories"], kmeans_ratio=r), desc=f"ratio {r}")
    records += recs
    rows.append(experiment.frame(recs).assign(kmeans_ratio=r))
df = pd.concat(rows)

# %%
table = df.groupby("kmeans_ratio")[["image_auroc", "pixel_auroc"]].mean().sort_index(ascending=False)
paper = paper_values.load("npad_appB_kmeans_ratio").set_index("kmeans_ratio")
paper.index = paper.index.round(4)
table["image_auroc (paper)"] = [paper["image_auroc"].get(round(r, 4), float("nan")) for r in table.index]
table["centroids"] = [int(pd.Series([x.extras.get("n_centroids") for x in records
                                     if x.config["params"]["kmeans_ratio"] == r]).mean()) for r in table.index]
show(table)
show(provenance(records))

# %%
fig, ax = plt.subplots(figsize=(4.5, 3))
plotting.curves(df, "kmeans_ratio", "image_auroc", "category", ax=ax, title="image AUROC by k-means ratio")
ax.set_xscale("log")
plt.show()
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary and verdict: the paper's image AUROC falls a little as the ratio shrinks.
from defectbook.book.report import claim_verdict, page_summary

lo_r, hi_r = min(N["kmeans_ratios"]), max(N["kmeans_ratios"])
page_summary(globals(), extra=claim_verdict(
    df, "kmeans_ratio", lo_r, hi_r, "image_auroc",
    f"fewer centroids lower the image AUROC (Appendix B); ours: ratio {lo_r} against {hi_r}",
    paper_effect=paper["image_auroc"].get(round(lo_r, 4), float("nan")) - paper["image_auroc"].get(round(hi_r, 4), float("nan")),
    paper_sign=-1));
