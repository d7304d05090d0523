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
# # NDP-Net Fig. 2: the encoder's defect perception with and without `L_def_per`
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Two NDP-Nets trained alike except for `L_def_per` (the Table VI variant C). For an artificial
# defect (defect-free image `I_o` and its Eq. 1 composite `I_ad`) and a real defect (the model's
# reconstruction and the defective test image) the figure shows the channel mean of the squared
# feature difference at encoder layers 1-3. Below it, a number for the same effect: the pixel
# AUROC of those difference maps against the artificial masks, over artificial pairs made from the
# test set's defect-free images.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seed = 0
n_pairs = 16

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from defectbook.book.report import provenance, show
from defectbook.book.report import table as md_table
from defectbook.data.artificial import ArtificialDefects
from defectbook.evaluation import metrics
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("ndpnet", profile, data_root=data_root)
dataset, cat = S.pair(S.grids["ablation_category"])
variants = {"with L_def_per": {}, "without L_def_per": {"def_per": False}}
cfgs = {k: S.config("ndpnet", dataset, cat, seed=seed, **v) for k, v in variants.items()}
records = [experiment.run(c) for c in cfgs.values()]
fitted = {k: experiment.fitted(c) for k, c in cfgs.items()}
prep = next(iter(fitted.values()))[1]
good = prep.test[torch.from_numpy(prep.labels == 0)][:n_pairs]
bad_i = int(np.flatnonzero(prep.labels == 1)[0])
synth = ArtificialDefects(seed=seed, p_defect=1.0)
i_ad, masks = synth(good)


def differences(det, a, b):
    """Channel mean of the squared feature difference, layers 1-3, up-sampled to the image: [3][N, H, W]."""
    fa, fb = det.encoder_features(a), det.encoder_features(b)
    return [F.interpolate((x - y).pow(2).mean(1, keepdim=True), size=a.shape[-2:], mode="bilinear",
                          align_corners=False)[:, 0] for x, y in zip(fa[:3], fb[:3])]


# %%
fig, ax = plt.subplots(4, 5, figsize=(11, 9))
for r, (name, (det, _)) in enumerate(fitted.items()):
    real = prep.test[bad_i : bad_i + 1]
    rec = det.analyse(real)["recon"]
    for row, (a, b, what) in enumerate([(good[:1], i_ad[:1], "artificial"), (rec, real, "real")]):
        k = 2 * r + row
        ax[k, 0].imshow(a[0].permute(1, 2, 0).numpy())
        ax[k, 1].imshow(b[0].permute(1, 2, 0).numpy())
        for l, d in enumerate(differences(det, a, b)):
            ax[k, 2 + l].imshow(d[0].numpy(), cmap="jet")
        ax[k, 0].set_ylabel(f"{name}\n{what}", fontsize=8)
for j, t in enumerate(["(a) I_o / recon", "(b) I_ad / defective", "(c) layer 1", "(d) layer 2", "(e) layer 3"]):
    ax[0, j].set_title(t, fontsize=8)
for a in ax.flat:
    a.set_xticks([]); a.set_yticks([])
plt.tight_layout()
plt.show()
show(provenance(records))

# %%
rows = []
m = masks[:, 0].numpy() > 0.5
keep = m.reshape(len(m), -1).any(1)
for name, (det, _) in fitted.items():
    d = differences(det, good, i_ad)
    rows.append({"encoder": name, **{f"layer {l + 1}": metrics.pixel_auroc(m[keep], d[l].numpy()[keep]) for l in range(3)}})
show("Pixel AUROC of the feature-difference maps against the artificial masks "
     f"({int(keep.sum())} artificial pairs):\n\n" + md_table(pd.DataFrame(rows), index=False))
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary and verdict: with L_def_per the encoder separates artificial defects better.
from defectbook.book.report import claim_verdict, page_summary

per_layer = pd.DataFrame(rows).melt(id_vars="encoder", var_name="layer", value_name="pixel_auroc")
page_summary(globals(), extra=claim_verdict(
    per_layer, "encoder", "with L_def_per", "without L_def_per", "pixel_auroc",
    "L_def_per makes the encoder perceive defects (Fig. 2); ours: pixel AUROC of the feature-difference maps "
    "against the artificial masks, paired by encoder layer", pair_on=("layer",)));
