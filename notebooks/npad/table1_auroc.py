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
# ```{glue:md} summary
# :format: myst
# ```
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

from defectbook.analysis.npad import auroc_tables, headline, paper_average, paper_average_table
from defectbook.book import paper_values, plotting
from defectbook.book.report import provenance, show
from defectbook.config import data_label
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("npad", profile, data_root=data_root, seeds=seeds)
records = experiment.run_many([c for m in methods for c in chapter.configs(m)], desc="table 1")
df = experiment.frame(records).assign(data=lambda x: [data_label(r.config) for r in records])

# %% tags=["remove-cell"]
from defectbook.book.report import claim_verdict, glue_value, page_summary

# %% [markdown]
# ## Image and pixel AUROC (mean over seeds)

# %%
paper = paper_values.load("npad_table1_auroc")
avg = paper_average(paper)
tables = auroc_tables(records, paper, chapter.synthetic)
for metric, title in (("image_auroc", "Image AUROC"), ("pixel_auroc", "Pixel AUROC")):
    show(f"**{title}** (rows: data set, then the mean over them; columns: method)")
    show(tables[metric])
show(provenance(records))

# %% [markdown]
# ## The paper's Table 1 (MVTec AD average, WRN-50 at 224 px)

# %%
show(paper_average_table(paper))
show("SPADE and PaDiM print no image AUROC in the paper (—). " +
     ("Our categories are synthetic, so only the paper's average is shown for scale; no difference is computed."
      if chapter.synthetic else "The per-category values stand beside ours in the table above."))

# %% tags=["remove-cell"]
# Page summary and verdict: N-pad against PaDiM, PatchCore and SPADE (the ledger's claim, image AUROC).
glue_value("headline_ours", df[df.method == "npad"].image_auroc.mean())
glue_value("headline_paper", float(avg.loc["N-pad", "image_auroc"]))
glue_value("headline_data", ", ".join(sorted(df["data"].unique())))
page_summary(records, extra=headline(df, methods) + "\n\n" + claim_verdict("npad.table1_image_auroc", df, records,
    paper_effect=float(avg.loc["N-pad", "image_auroc"] - avg.loc["PaDiM", "image_auroc"])));

# %% [markdown]
# ## The paper's other columns (flow-based methods, paper values only)

# %%
flows = avg.loc[["FastFlow", "PEFM", "CFLOW-AD"]]
show(flows)

# %% [markdown]
# ## Per-category image and pixel AUROC
# Bars: mean over seeds, with a bootstrap interval (`ci=95`) where there are several.

# %%
# One y-range for both panels (it reaches down to the lowest bar of either); one legend, right of them.
fig, ax = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
lims = (max(0.0, min(0.4, df[["image_auroc", "pixel_auroc"]].min().min() - 0.05)), 1.0)
shown = df.assign(method=df["method"].map(spec.LABELS))
plotting.metric_bars(shown, "data", "image_auroc", hue="method", ax=ax[0], ylim=lims, title="image AUROC", legend=False)
plotting.metric_bars(shown, "data", "pixel_auroc", hue="method", ax=ax[1], ylim=lims, title="pixel AUROC")
ax[1].tick_params(labelleft=True)
plt.tight_layout()
plt.show()
show(provenance(records))
