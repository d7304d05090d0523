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
import numpy as np

from defectbook.analysis import ndpnet
from defectbook.book import plotting
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.book.report import table as md_table
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("ndpnet", profile, data_root=data_root)
dataset, cat = chapter.pair(chapter.grids["ablation_category"])
variants = {"with L_def_per": {}, "without L_def_per": {"def_per": False}}
configs = {k: chapter.config("ndpnet", dataset, cat, seed=seed, **v) for k, v in variants.items()}
records = [experiment.run(c) for c in configs.values()]
fitted = {k: experiment.fitted(c) for k, c in configs.items()}
detectors = {k: det for k, (det, _) in fitted.items()}
prep = next(iter(fitted.values()))[1]
good, i_ad, masks = ndpnet.artificial_pairs(prep, n_pairs, seed)
bad_i = int(np.flatnonzero(prep.labels == 1)[0])

# %%
real = prep.test[bad_i : bad_i + 1]
plotting.defect_perception(detectors, {"artificial": lambda det: (good[:1], i_ad[:1]),
                                       "real": lambda det: (det.analyse(real)["recon"], real)},
                           ndpnet.feature_differences)
show(provenance(records))

# %%
perception, n_kept = ndpnet.perception_table(detectors, good, i_ad, masks)
show("Pixel AUROC of the feature-difference maps against the artificial masks "
     f"({n_kept} artificial pairs):\n\n" + md_table(perception, index=False))
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary and verdict: with L_def_per the encoder separates artificial defects better.
page_summary(records, extra=claim_verdict(
    "ndpnet.fig2_perception", records=records, **ndpnet.perception_claim(perception)));
