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
# # TrustMAE Fig. 7: squared error, SSIM and perceptual distance maps
#
# ```{glue:md} summary
# :format: myst
# ```
#
# One TrustMAE model (clean training); its reconstructions of defective test images compared with
# three distances: the squared error (MSE), 1 - SSIM (11x11 window) and the spatial perceptual
# distance (PD). The pixel AUROC of each distance over the whole test set quantifies the picture.
# The perceptual distance's network is named in the provenance line: LPIPS weights when the
# AlexNet trunk resolves, otherwise the offline backbone with unit channel weights.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seed = 0
category = None        # None: the profile's first TrustMAE category
n_examples = 4

# %%
import matplotlib.pyplot as plt
import torch

from defectbook.analysis import trustmae
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("trustmae", profile, data_root=data_root, seeds=[seed])
dataset, category = chapter.categories([category] if category else None)[0]
cfg = chapter.config("trustmae", dataset, category, seed=seed)
record = experiment.run(cfg)
det, prep = experiment.fitted(cfg)         # the model run() kept: loaded, not trained again
recon = det.reconstruct(prep.test)
maps = {d: det.distance_map(prep.test, recon, d) for d in ("mse", "ssim", "pd", "mse*pd")}

# %%
scores = trustmae.distance_scores(maps, prep)
if len(scores):
    show(scores)
show(provenance([record], extra=f"perceptual distance: {det.pd_.label}"))

# %%
idx = [i for i in range(len(prep.labels)) if prep.labels[i] == 1][:n_examples]
cols = ["input", "reconstruction", "ground truth", "MSE", "1 - SSIM", "PD"]
fig, ax = plt.subplots(len(idx), len(cols), figsize=(1.8 * len(cols), 1.9 * len(idx)), squeeze=False)
for r, i in enumerate(idx):
    ax[r, 0].imshow(prep.test[i].permute(1, 2, 0).numpy())
    ax[r, 1].imshow(recon[i].permute(1, 2, 0).numpy())
    ax[r, 2].imshow(prep.masks[i].numpy() if prep.masks is not None else torch.zeros(1, 1), cmap="gray")
    for c, d in zip(range(3, 6), ("mse", "ssim", "pd")):
        ax[r, c].imshow(maps[d][i].numpy(), cmap="jet")
    ax[r, 0].set_ylabel(prep.defects[i], fontsize=8)
for c, name in enumerate(cols):
    ax[0, c].set_title(name, fontsize=9)
for a in ax.flat:
    a.set_xticks([]); a.set_yticks([])
plt.tight_layout()
plt.show()
show(provenance([record], extra=f"perceptual distance: {det.pd_.label}"))

# %% tags=["remove-cell"]
# Page summary and verdict: the perceptual distance separates defects better than the squared error.
page_summary([record], extra=claim_verdict(
    "trustmae.fig7_perceptual_distance", trustmae.distance_frame(scores), [record]));
