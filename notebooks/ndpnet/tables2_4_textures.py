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
# # NDP-Net Tables II-IV: image AUROC, pixel AUROC and PRO on textures
#
# ```{glue:md} summary
# :format: myst
# ```
#
# NDP-Net trained end to end (two phases) on every texture category of the profile: the synthetic
# texture categories, Magnetic Tile Defects where it is present, MVTec AD's five textures and
# DAGM where they are present. Beside it, the book's other methods on the **same splits in the same
# run**, each with its own chapter's settings (PaDiM, N-pad: feature methods; TrustMAE, MemAE,
# AE-L2, AE-SSIM: reconstruction methods). PRO is the normalised area under the per-region-overlap
# curve up to a false-positive rate of `fpr_limit=0.3` (`aupro`), the measure of the paper's Table IV.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
only = None            # None: every dataset of the chapter; else names like ["mtd", "synthetic:wood"]
seeds = None
methods = None         # None: NDP-Net and the profile's `compare` list

# %%
import pandas as pd

from defectbook.book import paper_values
from defectbook.book.report import provenance, show
from defectbook.book.report import table as md_table
from defectbook.methods.ndpnet import RECONSTRUCTION
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec
from defectbook.pipeline.spec import LABELS

S = spec.chapter("ndpnet", profile, data_root=data_root, seeds=seeds)
N = S.grids
seeds = S.seeds
methods = methods or ["ndpnet", *N["compare"]]
cats = [(d, c) for d, c in S.pairs()
        if only is None or d in only or f"{d}:{c}" in only]
configs = [S.config(m, d, c, seed=s) for m in methods for d, c in cats for s in seeds]
records = experiment.run_many(configs, desc="ndpnet tables 2-4")
df = experiment.frame(records)
df["model"] = df["method"].map(LABELS)
df["kind"] = df["method"].map(lambda m: "reconstruction" if m in RECONSTRUCTION else "embedding")


# %%
def table(value):
    t = df.pivot_table(index=["kind", "model"], columns="data", values=value, aggfunc="mean")
    t.insert(0, "mean", t.mean(axis=1))
    return t.round(3)


for title, value in [("Table II: image AUROC", "image_auroc"), ("Table III: pixel AUROC", "pixel_auroc"),
                     ("Table IV: PRO (AUPRO, FPR <= 0.3)", "aupro")]:
    show(f"**{title}** (ours)\n\n" + md_table(table(value)))
show(provenance(records))

# %% [markdown]
# ## The targets, measured
#
# NDP-Net's pixel AUROC against the best reconstruction baseline and the best feature method on
# each dataset of this run (generated from the records above).

# %%
pix = df.pivot_table(index="data", columns="method", values="pixel_auroc", aggfunc="mean")
img = df.pivot_table(index="data", columns="method", values="image_auroc", aggfunc="mean")
rec_cols = [m for m in pix.columns if m in RECONSTRUCTION and m != "ndpnet"]
emb_cols = [m for m in pix.columns if m not in RECONSTRUCTION]
summary = pd.DataFrame({"NDP-Net image AUROC": img["ndpnet"], "NDP-Net pixel AUROC": pix["ndpnet"]})
if rec_cols:
    summary["best reconstruction baseline (pixel)"] = pix[rec_cols].max(axis=1)
    summary["which"] = pix[rec_cols].idxmax(axis=1).map(LABELS)
    summary["NDP-Net above every reconstruction baseline"] = pix["ndpnet"] > pix[rec_cols].max(axis=1)
if emb_cols:
    summary["best feature method (pixel)"] = pix[emb_cols].max(axis=1)
    summary["gap to best feature method"] = pix["ndpnet"] - pix[emb_cols].max(axis=1)
show(summary)
show(provenance(records))

# %% [markdown]
# ## The paper's Tables II-IV (MVTec AD textures)

# %%
for name, title in [("ndpnet_table2_image_auroc", "Table II"), ("ndpnet_table3_pixel_auroc", "Table III"),
                    ("ndpnet_table4_pro", "Table IV")]:
    show(f"**{title}** (paper)\n\n" + md_table(paper_values.load(name), index=False, digits=2))

# %% tags=["remove-cell"]
# Page summary and verdict: NDP-Net's pixel AUROC above TrustMAE's (Table III).
from defectbook.book.report import claim_verdict, glue_value, page_summary

# the headline number of the book's intro: NDP-Net's mean image AUROC (Table II)
glue_value("headline_ours", df[df["method"] == "ndpnet"]["image_auroc"].mean())
glue_value("headline_paper", float(paper_values.load("ndpnet_table2_image_auroc").set_index("method").loc["NDP-Net", "mean"]))
glue_value("headline_data", ", ".join(sorted(df[df["method"] == "ndpnet"]["data"].str.rstrip(":").unique())))
p3 = paper_values.load("ndpnet_table3_pixel_auroc").set_index("method")["mean"]
page_summary(globals(), extra=claim_verdict(
    df, "method", "ndpnet", "trustmae", "pixel_auroc",
    "NDP-Net localises defects better than the reconstruction methods, TrustMAE among them (Table III, MVTec AD "
    "textures)", paper_effect=float(p3["NDP-Net"] - p3["TrustMAE"])));
