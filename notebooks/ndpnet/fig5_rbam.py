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
# # NDP-Net Figs. 3 and 5: the reference-based attention module
#
# ```{glue:md} summary
# :format: myst
# ```
#
# **Fig. 3(c)**: RBFRM applied to the *pixels* of a defective image with the fixed reference
# image, for patch sizes K = 2, 4, 8, 16 (`defectbook.methods.ndpnet.rbfrm`): the larger K, the
# more the defect is suppressed and the more a patch "checkerboard" replaces the texture.
# **Fig. 5**: the trained model's layer-3 features (channel mean) of a defective image, of the
# reference image, and the repaired output of the RBAM, with the reconstruction. Below: the FFM's
# mean branch weights per layer (how much of `F_ad`, `F_rep2`, `F_rep4` the fusion keeps), inside
# and outside the defect.
#
# RGB patches of one texture all have cosine similarities close to 1, so at the pixel level the
# model's softmax scale averages every reference patch into one flat colour; the pixel-level
# illustration therefore uses a sharp softmax (`pixel_scale`, 1000: close to picking the most similar
# reference patch), and the feature-level panels use the trained model's scale.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seed = 0
pixel_scale = 1000.0   # softmax scale of the pixel-level RBFRM illustration

# %%
import numpy as np
import torch

from defectbook.analysis import ndpnet
from defectbook.book import plotting
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.book.report import table as md_table
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("ndpnet", profile, data_root=data_root)
dataset, cat = chapter.pair(chapter.grids["ablation_category"])
config = chapter.config("ndpnet", dataset, cat, seed=seed)
record = experiment.run(config)
det, prep = experiment.fitted(config)
i = int(np.flatnonzero(prep.labels == 1)[0])
x, ref = prep.test[i : i + 1], det.reference_image[None]

# %%
plotting.image_row(ndpnet.rbfrm_panels(x, ref, pixel_scale))
show(provenance([record], extra=f"pixel-level RBFRM, softmax scale {pixel_scale}"))

# %%
plotting.image_row(ndpnet.rbam_panels(det, x, ref))
show(provenance([record]))

# %%
defective = torch.from_numpy(prep.labels == 1)
weights = ndpnet.ffm_weights(det, prep.test[defective][:8],
                             prep.masks[defective][:8] if prep.masks is not None else None)
show("Mean FFM branch weights on defective test images:\n\n" + md_table(weights, index=False))
show(provenance([record]))

# %% tags=["remove-cell"]
# Page summary and verdict: the RBAM repairs defective features (measured: FFM weight on repaired branches in defects).
page_summary([record], extra=claim_verdict(
    "ndpnet.fig5_rbam", records=[record], **ndpnet.repair_claim(weights, det.ks)));
