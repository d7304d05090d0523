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
# training feature vectors) shrinks (`kmeans_ratio` from `0.25` down to `0.005`). The centroids enter only the image
# score (Eq. 12-14), so the pixel maps do not change.

# %% tags=["parameters"]
profile = "cpu"
data_root = None
seeds = None

# %%
import matplotlib.pyplot as plt

from defectbook.analysis.npad import by_ratio, kmeans_table, labelled_frame, records_of
from defectbook.book import paper_values, plotting
from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("npad", profile, data_root=data_root, seeds=seeds)
ratios = chapter.grids["kmeans_ratios"]
runs = {r: experiment.run_many(chapter.configs("npad", categories=chapter.grids["ablation_categories"], kmeans_ratio=r),
                               desc=f"ratio {r}") for r in ratios}
records = records_of(runs)
df = labelled_frame(runs, "kmeans_ratio")

# %%
paper = by_ratio(paper_values.load("npad_appB_kmeans_ratio"))
show(kmeans_table(df, records, paper))
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

lo_r, hi_r = min(ratios), max(ratios)
page_summary(records, extra=claim_verdict("npad.appB_kmeans_ratio", df, records,
    paper_effect=paper.get(round(lo_r, 4), float("nan")) - paper.get(round(hi_r, 4), float("nan"))));
