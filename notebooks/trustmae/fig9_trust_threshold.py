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
# # TrustMAE Fig. 9: the trust threshold delta_2
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Image AUROC of TrustMAE trained at a fixed noise level (the paper: cable at `noise=0.3`) for several
# values of delta_2, the distance beyond which features are neither pulled nor pushed. delta_2 = 0
# ignores everything outside the trust region. Beside the AUROC: how the trust region split the
# latent vectors in the last epoch (share pulled / pushed / ignored) and the mean adaptive
# delta_1, so the effect of delta_2 can be read from what the loss actually did.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seeds = None
category = None        # None: the profile's first TrustMAE category
deltas = None          # None: the profile's sweep
noise = None           # None: the profile's delta2_noise

# %%
import matplotlib.pyplot as plt

from defectbook.analysis import trustmae
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("trustmae", profile, data_root=data_root, seeds=seeds)
# paper: cable
dataset, category = chapter.categories([category] if category else chapter.grids["delta2_category"] or None)[0]
deltas = deltas if deltas is not None else chapter.grids["delta2"]
noise = noise if noise is not None else chapter.grids["delta2_noise"]
configs = [chapter.config("trustmae", dataset, category, seed=s, split=chapter.noisy(noise), delta2=float(d))
           for d in deltas for s in chapter.seeds]
records = experiment.run_many(configs, desc="fig9 delta2")
runs = trustmae.threshold_runs(records)
df = trustmae.threshold_table(runs)
show(df)
show(provenance(records))

# %%
fig, ax = plt.subplots(1, 2, figsize=(10, 3.4))
ax[0].plot(df.index, df["image_auroc"], "o-", label="image AUROC")
ax[0].plot(df.index, df["pixel_auroc"], "s--", label="pixel AUROC")
ax[0].set_xlabel("delta_2"); ax[0].set_title(f"{category} at {noise:.0%} noise"); ax[0].legend()
ax[1].stackplot(df.index, df["pulled"], df["pushed"], df["ignored"], labels=["pulled", "pushed", "ignored"], alpha=0.7)
ax[1].set_xlabel("delta_2"); ax[1].set_title("trust-region split of the latent vectors (last epoch)")
ax[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)  # the stack fills the axes
plt.tight_layout()
plt.show()
show("The paper's Fig. 9 (cable, at its noise level) is a plot without printed values: the AUROC is about flat "
     "for delta_2 from 15 to 40 and lower at delta_2 = 0. No number is transcribed, so none is compared.")
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary and verdict: AUROC lower at delta_2 = 0 than at a larger delta_2.
page_summary(records, extra=claim_verdict("trustmae.fig9_trust_threshold", runs, records));
