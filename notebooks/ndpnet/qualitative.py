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
# # NDP-Net Figs. 9, 10 and 12: reconstructions and segmentations
#
# ```{glue:md} summary
# :format: myst
# ```
#
# For each dataset of the chapter: defective test images, NDP-Net's reconstruction (it should
# follow the input and drop the defect), the final anomaly map and the ground truth; one
# defect-free image per dataset as a check that the reconstruction follows its input.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
only = None            # None: every dataset of the chapter; else names like ["mtd", "synthetic:wood"]
seed = 0
n_examples = 4

# %%
import matplotlib.pyplot as plt
import numpy as np

from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("ndpnet", profile, data_root=data_root)
for dataset, category in S.pairs():
    if only is not None and dataset not in only and f"{dataset}:{category}" not in only:
        continue
    cfg = S.config("ndpnet", dataset, category, seed=seed)
    record = experiment.run(cfg)
    det, prep = experiment.fitted(cfg)
    idx = list(np.flatnonzero(prep.labels == 1)[: n_examples - 1]) + list(np.flatnonzero(prep.labels == 0)[:1])
    a = det.analyse(prep.test[idx])
    fig, ax = plt.subplots(4, len(idx), figsize=(2 * len(idx), 8), squeeze=False)
    for j, i in enumerate(idx):
        ax[0, j].imshow(prep.test[i].permute(1, 2, 0).numpy())
        ax[1, j].imshow(a["recon"][j].permute(1, 2, 0).numpy())
        ax[2, j].imshow(a["msdsm"][j].numpy(), cmap="jet", vmin=0, vmax=max(1e-6, float(a["msdsm"].max())))
        if prep.masks is not None:
            ax[3, j].imshow(prep.masks[i].numpy(), cmap="gray", vmin=0, vmax=1)
        ax[0, j].set_title(str(prep.defects[i]), fontsize=8)
    for r, name in enumerate(["input", "reconstruction", "anomaly map", "ground truth"]):
        ax[r, 0].set_ylabel(name, fontsize=8)
    for x in ax.flat:
        x.set_xticks([]); x.set_yticks([])
    fig.suptitle(f"{dataset}:{category or ''} (image AUROC {record.metrics['image_auroc']:.3f}, "
                 f"pixel AUROC {record.metrics.get('pixel_auroc', float('nan')):.3f})", fontsize=9)
    plt.tight_layout()
    plt.show()
    show(provenance([record]))

# %% tags=["remove-cell"]
# Page summary and verdict: NDP-Net's maps mark the defects (pictures; pixel AUROC against chance).
from defectbook.book.report import claim_verdict, page_summary

shown = experiment.frame([experiment.run(S.config("ndpnet", d, c, seed=seed)) for d, c in S.pairs()
                          if only is None or d in only or f"{d}:{c}" in only])
page_summary(globals(), extra=claim_verdict(
    shown, "method", "ndpnet", "chance", "pixel_auroc",
    "NDP-Net's segmentations follow the defects (Figs. 9, 10 and 12, pictures only); ours: pixel AUROC of the "
    "maps shown against chance", reference=0.5));
