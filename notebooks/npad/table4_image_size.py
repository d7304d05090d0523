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
# # N-pad Table 4: image size
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Reproduces Table 4 of N-pad: the standard centre crop against resizing without cropping and larger
# crops. The profile lists the sizes (`cpu`: 112 crop of 128, 128 without crop, 140 crop of 160;
# `paper`: 224 crop, 256 resize, 336 crop). The paper's ensemble of the 224 and 336 crops is not
# reproduced: an ensemble needs the two models' full maps on the same pixels, which our runner does
# not combine (see the reproducibility notes). Two of the paper's five column headers are lost in the
# text we have; their values are shown unlabelled.

# %% tags=["parameters"]
profile = "cpu"
data_root = None
seeds = None

# %%
import matplotlib.pyplot as plt

from defectbook.analysis.npad import labelled_frame, mean_metrics, records_of, size_label
from defectbook.book import paper_values, plotting
from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("npad", profile, data_root=data_root, seeds=seeds)
categories = chapter.grids["ablation_categories"]
runs = {size_label(t): experiment.run_many(chapter.configs("npad", categories=categories, transform=t),
                                           desc=size_label(t)) for t in chapter.grids["image_sizes"]}
# the ensemble row: N-pad at two crop sizes, maps and scores averaged (defectbook.methods.ensemble)
ensemble = "ensemble " + " + ".join(f"{s} crop" for s in chapter.params("ensemble")["sizes"])
runs[ensemble] = experiment.run_many(chapter.configs("ensemble", categories=categories), desc="ensemble")
records = records_of(runs)
df = labelled_frame(runs, "size")

# %%
show(mean_metrics(df, "size"))
show("Paper (pixel AUROC, MVTec, WRN-50):")
show(paper_values.load("npad_table4_image_size"), index=False)
show(provenance(records))

# %%
fig, ax = plt.subplots(figsize=(5, 3))
plotting.metric_bars(df, "category", "pixel_auroc", hue="size", ax=ax, ylim=(0.5, 1.0))
plt.show()
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary and verdict: the paper's ensemble of two crop sizes beats the standard crop.
from defectbook.book.report import claim_verdict, page_summary

paper = paper_values.load("npad_table4_image_size").set_index("setting")["pixel_auroc"]
order = list(df["size"].unique())   # the profile's standard crop first, the ensemble last
page_summary(records, extra=claim_verdict("npad.table4_image_size", df, records,
    paper_effect=paper["ensemble 224+336 crop"] - paper["224 crop"]));
