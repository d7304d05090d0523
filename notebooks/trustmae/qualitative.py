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
# # TrustMAE Figs. 1-3 and supplementary Figs. 1-3: qualitative results
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Input, TrustMAE's reconstruction from memory, its distance map (squared error x perceptual
# distance) and the ground truth, for defective test images of each category of the table
# profile (clean training). The distance maps come from the runner's saved maps; the
# reconstructions from refitting the same configs (`experiment.fitted`).

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seed = 0
categories = None      # None: the profile's TrustMAE detail categories
n_examples = 4

# %%
import matplotlib.pyplot as plt

from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("trustmae", profile, data_root=data_root, seeds=[seed])
records = []
for dataset, category in chapter.categories(categories or chapter.grids["detail_categories"]):
    cfg = chapter.config("trustmae", dataset, category, seed=seed)
    record = experiment.run(cfg)
    records.append(record)
    det, prep = experiment.fitted(cfg)
    idx = [i for i in range(len(prep.labels)) if prep.labels[i] == 1][:n_examples]
    recon = det.reconstruct(prep.test[idx])
    dmap = det.distance_map(prep.test[idx], recon)
    fig, ax = plt.subplots(4, len(idx), figsize=(2 * len(idx), 8), squeeze=False)
    for j, i in enumerate(idx):
        ax[0, j].imshow(prep.test[i].permute(1, 2, 0).numpy())
        ax[1, j].imshow(recon[j].permute(1, 2, 0).numpy())
        ax[2, j].imshow(dmap[j].numpy(), cmap="jet")
        if prep.masks is not None:
            ax[3, j].imshow(prep.masks[i].numpy(), cmap="gray", vmin=0, vmax=1)
        ax[0, j].set_title(prep.defects[i], fontsize=8)
    for r, name in enumerate(["input", "reconstruction", "distance map", "ground truth"]):
        ax[r, 0].set_ylabel(name, fontsize=8)
    for a in ax.flat:
        a.set_xticks([]); a.set_yticks([])
    fig.suptitle(f"{dataset}:{category} (image AUROC {record.metrics['image_auroc']:.3f}, "
                 f"pixel AUROC {record.metrics['pixel_auroc']:.3f})")
    plt.tight_layout()
    plt.show()
    show(provenance([record]))

# %% tags=["remove-cell"]
# Page summary and verdict: TrustMAE's distance maps mark the defects (pictures; measured as pixel AUROC
# against chance).
page_summary(records, extra=claim_verdict("trustmae.qualitative_maps", experiment.frame(records), records));
