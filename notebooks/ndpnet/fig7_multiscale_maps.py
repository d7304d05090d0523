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
# # NDP-Net Fig. 7: the multi-scale anomaly maps
#
# ```{glue:md} summary
# :format: myst
# ```
#
# AM1, AM2, AM3 of the three MSDSM heads (encoder layers 1, 2, 3; up-sampled to the image) and the
# fused map `0.2 AM1 + 0.2 g(AM2) + 0.6 g(AM3)` after the 5x5 mean filter, for defective test
# images; then the pixel AUROC of each map alone and of the fusion over the whole test set.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seed = 0
n_examples = 4

# %%
import numpy as np
import pandas as pd

from defectbook.analysis import ndpnet
from defectbook.book import plotting
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("ndpnet", profile, data_root=data_root)
dataset, cat = chapter.pair(chapter.grids["ablation_category"])
config = chapter.config("ndpnet", dataset, cat, seed=seed)
record = experiment.run(config)
det, prep = experiment.fitted(config)
maps = det.analyse(prep.test)

# %%
titles = {"AM1": "am1", "g(AM2)": "am2", "g(AM3)": "am3", "AM_final": "msdsm"}
plotting.map_rows(prep.test, prep.masks, {t: maps[n] for t, n in titles.items()},
                  list(np.flatnonzero(prep.labels == 1)[:n_examples]))
show(provenance([record]))

# %%
res = pd.DataFrame()
if prep.masks is not None:
    res = ndpnet.map_aurocs(maps, prep.labels, prep.masks.numpy())
    show(res, index=False)
else:
    show("No pixel ground truth for this split.")
show(provenance([record]))

# %% tags=["remove-cell"]
# Page summary and verdict: the fused map localises better than any single-scale map.
page_summary([record], extra=claim_verdict("ndpnet.fig7_fusion", records=[record], **ndpnet.multiscale_claim(res)));
