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
# # DifferNet Fig. 8: gradient maps
#
# ```{glue:md} summary
# :format: myst
# ```
#
# DifferNet localizes defects without any pixel-level training: the negative log-likelihood is
# back-propagated to the input image, the gradient blurred with a Gaussian, its absolute values
# summed over the colour channels (Eq. 7), and the maps of several rotations averaged after
# rotating them back. The paper shows pictures only; we also report pixel AUROC and AUPRO.
#
# The paper explains its meaningful gradients with AlexNet's shallowness. With the offline
# `efficientnet_lite0` backbone (linear bottleneck outputs, no max-pooling) the gradients spread over
# the whole image; to show that the mechanism, not our code, is at stake, the profile can add AlexNet
# with **random** weights (`alexnet-random`: ReLU and max-pooling, no ImageNet knowledge; its image
# AUROC is not meaningful). The `paper` profile uses AlexNet with ImageNet weights.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None       # folder holding mvtec/; None: DEFECTBOOK_DATA
seeds = None           # None: the profile's seeds
categories = None      # None: the profile's localization categories
backbones = None       # None: the profile's (efficientnet_lite0, alexnet-random, alexnet)

# %%
import matplotlib.pyplot as plt

from defectbook.analysis import differnet
from defectbook.book import plotting
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("differnet", profile, data_root=data_root, seeds=seeds)
configs, label_of = differnet.localization_configs(chapter, categories, backbones)
records = experiment.run_many(configs, desc="differnet fig 8")

# %% [markdown]
# ## Pixel-level metrics of the gradient maps (the paper reports none)

# %%
df = experiment.frame(records).assign(backbone=label_of)
per_category, per_backbone = differnet.localization_tables(df)
show(per_category)
show(per_backbone)
show(provenance(records))

# %% [markdown]
# ## Gradient maps beside the images and ground truth (Fig. 8)
# One defective image per defect type and one defect-free image; colour scale per row.

# %%
for backbone in dict.fromkeys(label_of):
    shown = [r for r, b in zip(records, label_of) if b == backbone and r.maps()][:3]
    for r in shown:
        plotting.anomaly_grid([r.maps()], [f"DifferNet gradients ({backbone})"], n=6,
                              suptitle=f"{r.config['dataset']}:{r.config.get('category') or ''} · {backbone} · "
                                       f"pixel AUROC {r.metrics.get('pixel_auroc', float('nan')):.3f}")
        plt.show()
    show(provenance(shown))

# %% tags=["remove-cell"]
# Page summary and verdict: DifferNet's gradient maps localise defects (pictures only; pixel AUROC against chance).
page_summary(records, extra=claim_verdict(
    "differnet.fig8_localization", records=records, **differnet.localization_claim(df, label_of[0])));
