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
# # N-pad Table 3: ablation of the modules A, B, C and D
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Reproduces Table 3 of N-pad. A: the weighted-similarity Gaussians; B: the Gaussians of
# neighbourhood-averaged features; C: the minimum over the neighbouring Gaussians at inference; D: image
# shifting. Experiments 1-5 run without shifting, as in the paper:
# Exper1 = A, Exper2 = B, Exper3 = A+B, Exper4 = A+C, Exper5 = A+B+C, N-pad = A+B+C+D.
# The image score keeps the centroid memory in every experiment (it is not one of the four modules).

# %% tags=["parameters"]
profile = "cpu"
data_root = None
seeds = None

# %%
import matplotlib.pyplot as plt

from defectbook.analysis.npad import ablation_table, labelled_frame, records_of
from defectbook.book import paper_values
from defectbook.book.report import provenance, show
from defectbook.methods.npad import ABLATIONS
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("npad", profile, data_root=data_root, seeds=seeds)
categories = chapter.grids["ablation_categories"]
runs = {name: experiment.run_many(chapter.configs("npad", categories=categories, **switches), desc=name)
        for name, switches in ABLATIONS.items()}
records = records_of(runs)
df = labelled_frame(runs, "experiment")

# %%
paper = paper_values.load("npad_table3_ablation").set_index("experiment")
show(ablation_table(df, paper))
show("Ours: mean over the categories " + ", ".join(sorted(df["category"].dropna().unique())) +
     "; paper: MVTec AD average (WRN-50, 224 px).")
show(provenance(records))

# %%
fig, ax = plt.subplots(figsize=(6, 3))
per = df.pivot_table(index="experiment", columns="category", values="pixel_auroc", sort=False)
per.plot(marker="o", ax=ax)
ax.set_ylabel("pixel AUROC"); ax.set_title("ablation per category")
plt.show()
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary: the paper finds the full N-pad above module A alone (Exper1), pixel AUROC.
from defectbook.book.report import claim_verdict, page_summary

page_summary(records, extra=claim_verdict("npad.table3_ablation", df, records,
    paper_effect=float(paper.loc["N-pad", "pixel_auroc"] - paper.loc["Exper1", "pixel_auroc"])));
