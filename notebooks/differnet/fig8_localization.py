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

from defectbook.book import plotting
from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("differnet", profile, data_root=data_root, seeds=seeds)
F = S.grids
cats = categories if categories is not None else F["localize_categories"]
configs, label_of = [], []
for bb in (backbones or list(F["localize_backbones"])):
    extra = dict(F["localize_backbones"].get(bb) or {"backbone": bb, **({"layer": "pool5"} if bb == "alexnet" else {})})
    if extra["backbone"] == "alexnet":   # AlexNet's pool5 needs inputs of at least 64 px
        size = S.section["transform"].get("crop") or S.section["transform"]["resize"]
        extra["scales"] = [s for s in S.params("differnet")["scales"] if s * size >= 64] or [1.0]
    for c in S.configs("differnet", categories=cats, save_maps=6, **F["localize"], **extra, snapshots=0):
        configs.append(c)
        label_of.append(bb)
records = experiment.run_many(configs, desc="differnet fig 8")

# %% [markdown]
# ## Pixel-level metrics of the gradient maps (the paper reports none)

# %%
df = experiment.frame(records)
df["backbone"] = label_of
cols = ["image_auroc", "pixel_auroc", "aupro"]
table = df.groupby(["backbone", "dataset", "category"])[cols].mean()
show(table)
show(df.groupby("backbone")[cols].mean())
show(provenance(records))

# %% [markdown]
# ## Gradient maps beside the images and ground truth (Fig. 8)
# One defective image per defect type and one defect-free image; colour scale per row.

# %%
for bb in dict.fromkeys(label_of):
    recs = [r for r, b in zip(records, label_of) if b == bb and r.maps()][:3]
    for r in recs:
        plotting.anomaly_grid([r.maps()], [f"DifferNet gradients ({bb})"], n=6,
                              suptitle=f"{r.config['dataset']}:{r.config.get('category') or ''} · {bb} · "
                                       f"pixel AUROC {r.metrics.get('pixel_auroc', float('nan')):.3f}")
        plt.show()
    show(provenance(recs))

# %% tags=["remove-cell"]
# Page summary and verdict: DifferNet's gradient maps localise defects (pictures only; pixel AUROC against chance).
from defectbook.book.report import claim_verdict, page_summary

first = label_of[0]
page_summary(globals(), extra=claim_verdict(
    df[df["backbone"] == first], "backbone", first, "chance", "pixel_auroc",
    f"DifferNet's gradient maps localise defects without pixel-level training (Fig. 8, pictures only); ours: "
    f"pixel AUROC of the {first} maps against chance", reference=0.5));
