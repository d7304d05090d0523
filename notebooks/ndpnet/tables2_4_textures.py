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
from defectbook.analysis import ndpnet
from defectbook.book import paper_values
from defectbook.book.report import claim_verdict, glue_values, page_summary, provenance, show
from defectbook.book.report import table as md_table
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("ndpnet", profile, data_root=data_root, seeds=seeds)
methods = methods or ["ndpnet", *chapter.grids["compare"]]
configs = [chapter.config(m, d, c, seed=s) for m in methods for d, c in ndpnet.chosen(chapter.pairs(), only)
           for s in chapter.seeds]
records = experiment.run_many(configs, desc="ndpnet tables 2-4")
df = ndpnet.texture_frame(records)


# %%
for title, value in ndpnet.TEXTURE_TABLES:
    show(f"**{title}** (ours)\n\n" + md_table(ndpnet.texture_table(df, value)))
show(provenance(records))

# %% [markdown]
# ## The targets, measured
#
# NDP-Net's pixel AUROC against the best reconstruction baseline and the best feature method on
# each dataset of this run (generated from the records above).

# %%
show(ndpnet.texture_targets(df))
show(provenance(records))

# %% [markdown]
# ## The paper's Tables II-IV (MVTec AD textures)

# %%
for name, title in [("ndpnet_table2_image_auroc", "Table II"), ("ndpnet_table3_pixel_auroc", "Table III"),
                    ("ndpnet_table4_pro", "Table IV")]:
    show(f"**{title}** (paper)\n\n" + md_table(paper_values.load(name), index=False, digits=2))

# %% tags=["remove-cell"]
# Page summary and verdict: NDP-Net's pixel AUROC above TrustMAE's (Table III).
# the headline numbers of the book's intro: NDP-Net's mean image AUROC (Table II)
glue_values(ndpnet.headline(df, paper_values.load("ndpnet_table2_image_auroc").set_index("method")))
page_summary(records, extra=claim_verdict(
    "ndpnet.pixel_auroc_vs_reconstruction", records=records, **ndpnet.texture_claim(df,
    paper_values.load("ndpnet_table3_pixel_auroc").set_index("method"))));
