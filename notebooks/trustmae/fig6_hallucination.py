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

from defectbook.analysis import trustmae
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("trustmae", profile, data_root=data_root, seeds=[seed])
dataset, category = chapter.categories([category] if category else None)[0]
noise = noise if noise is not None else max(chapter.grids["noise"])
cfg = {"with TR": chapter.config("trustmae", dataset, category, seed=seed, split=chapter.noisy(noise)),
       "w/o TR": chapter.config("trustmae", dataset, category, seed=seed, split=chapter.noisy(noise),
                                trust_region=False)}
records = experiment.run_many(cfg.values(), desc="fig6 records")   # metrics first: run() keeps the fitted models
fitted = {k: experiment.fitted(c) for k, c in cfg.items()}         # ... which are loaded here, not trained again
prep = fitted["with TR"][1]

# %%
idx = trustmae.example_indices(prep.labels, n_examples)
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
show(trustmae.memory_contamination(fitted, prep, cfg["with TR"]["transform"]), index=False)
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary and verdict: without the trust region the memory absorbs defects, so detection suffers.
page_summary(records, extra=claim_verdict(
    "trustmae.fig6_trust_region", experiment.frame(records).assign(model=list(cfg)), records));
