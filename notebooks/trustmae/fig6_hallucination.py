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
# # TrustMAE Fig. 6: hallucinated or reconstructed defects without the trust region
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Two TrustMAE models trained on the same noisy training set (the profile's highest noise level),
# one with and one without trust-region memory updates. The paper's observation: without the
# trust region the memory absorbs defect features, so the model either hallucinates defects on
# normal inputs or reconstructs the defects of defective ones (and then misses them).
#
# Below the pictures we measure the contamination directly: the distance of every training latent
# vector to its nearest memory slot, split by whether the training image was defective or normal.
# A memory that kept defects out has defective training patches far from every slot.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seed = 0
category = None        # None: the profile's first TrustMAE category
noise = None           # None: the profile's highest noise level
n_examples = 4

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("trustmae", profile, data_root=data_root, seeds=[seed])
T = S.grids
dataset, category = S.categories([category] if category else None)[0]
noise = noise if noise is not None else max(T["noise"])
cfg = {"with TR": S.config("trustmae", dataset, category, seed=seed, split=S.noisy(noise)),
       "w/o TR": S.config("trustmae", dataset, category, seed=seed, split=S.noisy(noise), trust_region=False)}
records = experiment.run_many(cfg.values(), desc="fig6 records")   # metrics first: run() keeps the fitted models
fitted = {k: experiment.fitted(c) for k, c in cfg.items()}         # ... which are loaded here, not trained again
prep = fitted["with TR"][1]

# %%
normal = [i for i in range(len(prep.labels)) if prep.labels[i] == 0][: n_examples // 2]
defect = [i for i in range(len(prep.labels)) if prep.labels[i] == 1][: n_examples - len(normal)]
idx = normal + defect
x = prep.test[idx]
recs = {k: det.reconstruct(x) for k, (det, _) in fitted.items()}
fig, ax = plt.subplots(3, len(idx), figsize=(2 * len(idx), 6.2), squeeze=False)
for j, i in enumerate(idx):
    ax[0, j].imshow(x[j].permute(1, 2, 0).numpy())
    ax[0, j].set_title("normal" if prep.labels[i] == 0 else f"defect: {prep.defects[i]}", fontsize=8)
    for r, k in enumerate(recs, start=1):
        ax[r, j].imshow(recs[k][j].permute(1, 2, 0).numpy())
for r, name in enumerate(["input", "reconstruction with TR", "reconstruction w/o TR"]):
    ax[r, 0].set_ylabel(name, fontsize=8)
for a in ax.flat:
    a.set_xticks([]); a.set_yticks([])
plt.tight_layout()
plt.show()
show(f"{category}, training noise {noise:.0%}: image AUROC with TR {records[0].metrics['image_auroc']:.3f}, "
     f"w/o TR {records[1].metrics['image_auroc']:.3f}.")
show(provenance(records))

# %% [markdown]
# ## Memory contamination, measured
# Distance of each training latent vector to its nearest memory slot. "defective image, in mask"
# are the patches whose receptive-field centre lies on a defect of a defective training image.

# %%
from defectbook.data import load_masks
from defectbook.data.transforms import make_mask_transform

train_labels = np.array([s.label for s in prep.split.train])
t = cfg["with TR"]["transform"]
train_masks = load_masks(prep.split.train, make_mask_transform(t["resize"], t.get("crop")))
rows = []
for name, (det, _) in fitted.items():
    nd = det.memory_access(prep.train)["nearest_dist"]                     # [N, h, w]
    m = torch.nn.functional.adaptive_max_pool2d(train_masks[:, None], nd.shape[-2:])[:, 0] > 0
    normal_d = nd[torch.from_numpy(train_labels == 0)].flatten()
    bad = torch.from_numpy(train_labels == 1)
    in_mask = nd[bad][m[bad]] if bad.any() else torch.tensor([])
    rows.append({"model": name, "normal image patches": normal_d.mean().item(),
                 "defective image, in mask": in_mask.mean().item() if len(in_mask) else float("nan"),
                 "ratio (defect / normal)": (in_mask.mean() / normal_d.mean()).item() if len(in_mask) else float("nan"),
                 "n defective training images": int(bad.sum())})
show(pd.DataFrame(rows), index=False)
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary and verdict: without the trust region the memory absorbs defects, so detection suffers.
from defectbook.book.report import claim_verdict, page_summary

page_summary(globals(), extra=claim_verdict(
    experiment.frame(records).assign(model=list(cfg)), "model", "with TR", "w/o TR", "image_auroc",
    f"without the trust region the memory takes in defects and detection suffers (Fig. 6); ours: image AUROC "
    f"of the two models on {dataset}:{category} at {noise:.0%} training noise"));
