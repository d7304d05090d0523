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
# # NDP-Net Table VI and Fig. 13: ablation
#
# ```{glue:md} summary
# :format: myst
# ```
#
# On the profile's ablation category (the paper: MVTec AD wood): the full model (A), without RBAM
# (B: the decoder gets the encoder's features unrepaired), without `L_def_per` (C), and the MSDSM
# replaced by the pixel gap `|I - recon|` (D), the multi-scale feature residual MSFR (E) and
# `1 - SSIM` (F). Every variant is trained with the same settings and seed. B and C are models of
# their own; D, E and F are the full model A with another test map: the focal loss `L_seg` trains the
# MSDSM heads only (they read detached features, so no gradient of theirs reaches the decoder or the
# RBAM), so a model trained without the MSDSM would have the same reconstruction network, and one
# training serves the four segmentations. Every score is the map's maximum, as NDP-Net's. The deltas
# are ours minus the full model's, with a paired bootstrap interval (95 percent) over test images
# (image AUROC: `metrics.auroc_difference`; pixel AUROC: `metrics.pixel_auroc_difference`). The paper
# prints Table VI as an image; its deltas are quoted from its text (Sec. IV-D).

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seed = 0
n_boot = 200

# %%
from defectbook.analysis import ndpnet
from defectbook.book import paper_values, plotting
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.pipeline import spec

chapter = spec.chapter("ndpnet", profile, data_root=data_root)
dataset, cat = chapter.pair(chapter.grids["ablation_category"])
records, maps, prep = ndpnet.ablation_runs(chapter, dataset, cat, seed)
masks = prep.masks.numpy()

# %%
ours = ndpnet.ablation_table(records[ndpnet.FULL].labels, maps, masks, trained=records, n_boot=n_boot, seed=seed)
show(ours, index=False, digits=4)
show(provenance(list(records.values()), extra=f"{n_boot} bootstrap resamples; model: the trained model each row uses"))

# %% [markdown]
# ## The paper's deltas (text of Sec. IV-D, MVTec AD wood)

# %%
paper = paper_values.load("ndpnet_table6_ablation_deltas")
show(paper, index=False, digits=2)

# %% [markdown]
# ## Fig. 13: the anomaly maps of each variant

# %%
plotting.map_rows(prep.test, masks, maps, [i for i in range(len(masks)) if masks[i].any()][:4])
show(provenance(list(records.values())))

# %% tags=["remove-cell"]
# Page summary and verdict: the full model (A) above every variant B-F (Table VI, pixel AUROC).
page_summary(records.values(), extra=claim_verdict(
    "ndpnet.table6_switches", records=records.values(), **ndpnet.ablation_claim(ours, paper)));
