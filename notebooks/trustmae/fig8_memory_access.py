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
# # TrustMAE Fig. 8: memory access with and without sparse addressing
#
# ```{glue:md} summary
# :format: myst
# ```
#
# For one latent vector z_i (left) and aggregated over every latent vector of the training data
# (right): the addressing weights each memory slot receives, for the full model (top-k sparse
# addressing, k = 3) and without sparse addressing (dense softmax). The weights are the real
# addressing weights of the trained models, recorded by the detector at the end of training.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seed = 0
category = None        # None: the profile's first TrustMAE category
noise = 0.0            # training noise of the two models

# %%
import matplotlib.pyplot as plt

from defectbook.analysis import trustmae
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("trustmae", profile, data_root=data_root, seeds=[seed])
dataset, category = chapter.categories([category] if category else None)[0]
split = chapter.noisy(noise) if noise else {"kind": "clean"}
runs = {"sparse (top-k)": chapter.config("trustmae", dataset, category, seed=seed, split=split),
        "dense (w/o SP)": chapter.config("trustmae", dataset, category, seed=seed, split=split, sparse=False)}
records = dict(zip(runs, experiment.run_many(runs.values(), desc="fig8")))

# %%
fig, ax = plt.subplots(2, 2, figsize=(10, 5))
for i, (name, r) in enumerate(records.items()):
    m = r.extras["memory"]
    ax[i, 0].bar(range(len(m["example_weights"])), m["example_weights"], color="C0")
    ax[i, 0].set_title(f"{name}: weights of one z_i")
    ax[i, 1].bar(range(len(m["train_usage"])), m["train_usage"], color="C1")
    ax[i, 1].set_title(f"{name}: aggregated over all training z_i")
    for a in ax[i]:
        a.set_xlabel("memory slot")
plt.tight_layout()
plt.show()

stats = trustmae.memory_access_table(records)
show(stats)
show(provenance(records.values()))

# %% tags=["remove-cell"]
# Page summary and verdict: sparse addressing concentrates each latent vector on few slots.
page_summary(records.values(), extra=claim_verdict(
    "trustmae.fig8_sparse_addressing", trustmae.access_frame(stats), records.values()));
