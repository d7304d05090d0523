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

from defectbook.book import paper_values, plotting
from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("npad", profile, data_root=data_root, seeds=seeds)
N, SYNTH, grid = S.grids, S.synthetic, S.configs   # grid(method, categories=..., real=..., **params): configs


records = experiment.run_many([c for m in methods for c in grid(m)], desc="table 1")
df = experiment.frame(records)

# %% tags=["remove-cell"]
from defectbook.book.report import claim_verdict, glue_text, glue_value
from defectbook.config import data_label

# %% [markdown]
# ## Image and pixel AUROC (mean over seeds)

# %%
names = {"padim": "PaDiM", "patchcore": "PatchCore", "spade": "SPADE", "npad": "N-pad"}
df["data"] = [data_label(r.config) for r in records]
table = df.pivot_table(index="data", columns="method", values=["image_auroc", "pixel_auroc"], aggfunc="mean")
table.loc["mean"] = table.mean()
table = table.rename(columns=names)
paper = paper_values.load("npad_table1_auroc").set_index(["category", "method"])
avg = paper.xs("average", level="category")
if not SYNTH:  # MVTec AD: the paper's value beside ours, category by category
    for metric in ("image_auroc", "pixel_auroc"):
        ref = paper[metric].unstack("method").rename(index=lambda c: "mean" if c == "average" else f"mvtec:{c}")
        for m in names.values():
            if m in ref:
                table[(metric, f"{m} (paper)")] = ref[m].reindex(table.index).values
order = [c for m in names.values() for c in (m, f"{m} (paper)")]
for metric, title in (("image_auroc", "Image AUROC"), ("pixel_auroc", "Pixel AUROC")):
    part = table[metric][[c for c in order if c in table[metric].columns]]
    show(f"**{title}** (rows: data set, then the mean over them; columns: method)")
    show(part.rename_axis(columns=None))
show(provenance(records))

# %% [markdown]
# ## The paper's Table 1 (MVTec AD average, WRN-50 at 224 px)

# %%
show(avg.loc[[m for m in names.values() if m in avg.index], ["image_auroc", "pixel_auroc"]].rename_axis("method"))
show("SPADE and PaDiM print no image AUROC in the paper (—). " +
     ("Our categories are synthetic, so only the paper's average is shown for scale; no difference is computed."
      if SYNTH else "The per-category values stand beside ours in the table above."))

# %% tags=["remove-cell"]
# Page summary: N-pad against PaDiM, paired by data set and seed.
glue_value("headline_ours", df[df.method == "npad"].image_auroc.mean())
glue_value("headline_paper", float(avg.loc["N-pad", "image_auroc"]))
glue_value("headline_data", ", ".join(sorted(df["data"].unique())))
glue_text("summary", (
    f"N-pad, PaDiM, PatchCore and SPADE on data {', '.join(sorted(df['data'].unique()))}, "
    f"seeds {', '.join(map(str, sorted(df['seed'].unique())))}. Mean image AUROC: "
    + ", ".join(f"{names[m]} {df[df.method == m].image_auroc.mean():.3f}" for m in methods) + ".\n\n"
    + claim_verdict(df, "method", "npad", "padim", "pixel_auroc", "N-pad above PaDiM in pixel AUROC (Table 1, MVTec AD average)",
                    paper_effect=float(avg.loc["N-pad", "pixel_auroc"] - avg.loc["PaDiM", "pixel_auroc"]))))

# %% [markdown]
# ## The paper's other columns (flow-based methods, paper values only)

# %%
flows = avg.loc[["FastFlow", "PEFM", "CFLOW-AD"]]
show(flows)

# %% [markdown]
# ## Per-category image and pixel AUROC (bars: mean over seeds, with a bootstrap interval, `ci=95`, where there are several)

# %%
# One y-range for both panels (it reaches down to the lowest bar of either); one legend, right of them.
fig, ax = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
lims = (max(0.0, min(0.4, df[["image_auroc", "pixel_auroc"]].min().min() - 0.05)), 1.0)
shown = df.assign(method=df["method"].map(names))
plotting.metric_bars(shown, "data", "image_auroc", hue="method", ax=ax[0], ylim=lims, title="image AUROC", legend=False)
plotting.metric_bars(shown, "data", "pixel_auroc", hue="method", ax=ax[1], ylim=lims, title="pixel AUROC")
ax[1].tick_params(labelleft=True)
plt.tight_layout()
plt.show()
show(provenance(records))
