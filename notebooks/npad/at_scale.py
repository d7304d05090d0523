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
# # At larger scale: N-pad
#
# ```{glue:md} summary
# :format: myst
# ```
#
# At the `cpu` profile N-pad runs at 112 px on efficientnet_lite0 where the paper runs 224 px on
# wide_resnet50_2. This page follows N-pad's lead over PaDiM and PatchCore on real data (Magnetic
# Tile Defects, ELPV mono cells; the paper's Appendix A) as the image size grows to the paper's 224 px
# and N-pad's neighbourhoods to the paper's, with the layer sets of the paper (layers 1-3; PatchCore 2-3).
#
# Every number on this page is read from a committed results bundle (`bundles/scale`, written by
# `benchmarks/scale_ladder.py` on two CPU cores, and `bundles/gpu`, written by `benchmarks/gpu_window.py`
# on one GPU), not computed in this build: each figure says which command made it, at which commit.
# Each bundled record is checked (its checksum) and keyed again with today's code; a rung whose record
# would get another key today is stale, drawn hollow and left out of the reading. The ladders, their
# estimated costs and the reading rule are declared in `defectbook.analysis.scale`, before any rung ran.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper (the bundle does not depend on it: nothing is computed here)
bundle_dir = None      # None: bundles/scale of the repository
gpu_bundle_dir = None  # None: bundles/gpu of the repository

# %%
from defectbook.book.report import page_summary, scale_page

records, readings = scale_page("npad", bundle_dir, gpu_bundle_dir)

# %% tags=["remove-cell"]
# Page summary: the bundled records and each claim's reading.
page_summary(records, extra=readings);
