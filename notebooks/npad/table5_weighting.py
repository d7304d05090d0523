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

from defectbook.analysis.npad import labelled_frame, records_of, weighting_table
from defectbook.book import paper_values, plotting
from defectbook.book.report import provenance, show
from defectbook.methods.npad import ABLATIONS
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("npad", profile, data_root=data_root, seeds=seeds)
switches = ABLATIONS[chapter.grids["weighting_ablation"]]
runs = {w: experiment.run_many(chapter.configs("npad", categories=chapter.grids["ablation_categories"], weighting=w,
                                               **switches), desc=w) for w in chapter.grids["weightings"]}
records = records_of(runs)
df = labelled_frame(runs, "weighting")

# %%
paper = paper_values.load("npad_table5_weighting").set_index("weighting")
show(weighting_table(df, records, paper))
show(provenance(records))

# %%
fig, ax = plt.subplots(figsize=(5, 3))
plotting.metric_bars(df, "category", "pixel_auroc", hue="weighting", ax=ax, ylim=(0.5, 1.0))
plt.show()
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary: the paper finds Bhattacharyya weights above uniform ones (pixel AUROC).
from defectbook.book.report import claim_verdict, page_summary

page_summary(records, extra=claim_verdict("npad.table5_weighting", df, records));
