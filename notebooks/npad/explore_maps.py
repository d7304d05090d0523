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
# # Explore the anomaly maps: method, category and threshold
#
# ```{glue:md} summary
# :format: myst
# ```
#
# The maps of N-pad's Table 1 runs (PaDiM, PatchCore, SPADE and N-pad on the chapter's categories; the
# records are reused, not recomputed). In a running notebook (Jupyter) drop-downs pick the method and the
# data set, a slider the example image and another the threshold: the page then shows the image, its
# anomaly map, the map's thresholded mask against the ground truth and the per-pixel precision and
# recall at that threshold, for the image shown and for all saved examples of the run. Each map is
# scaled to [0, 1] by its run's minimum and maximum, so one threshold reads alike for every method.
# The book shows one static view: the first method and data set, the first defective example, the
# threshold `0.5`.

# %% tags=["parameters"]
profile = "cpu"
data_root = None
seeds = None
methods = ["padim", "patchcore", "spade", "npad"]
threshold = 0.5

# %%
import matplotlib.pyplot as plt

from defectbook.analysis.npad import at_threshold, precision_recall_table
from defectbook.book import plotting
from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("npad", profile, data_root=data_root, seeds=seeds)
records = experiment.run_many([c for m in methods for c in chapter.configs(m)], desc="maps")
shown = [r for r in records if r.maps()]

# %%
plotting.map_explorer(shown, names=spec.LABELS, threshold=threshold);
show(provenance(shown))

# %% [markdown]
# ## Precision and recall over thresholds
# For each run with saved maps: the threshold of the scaled map against the per-pixel precision and
# recall pooled over its saved examples (a handful of test images, not the whole test set).

# %%
pr = precision_recall_table(shown)
if len(pr):
    plotting.precision_recall_panels(pr)
    plt.show()
    show(at_threshold(pr, threshold))
show(provenance(shown))

# %% tags=["remove-cell"]
# Page summary and verdict: the paper's maps show N-pad localising defects better than PaDiM (as appD_maps).
from defectbook.book.report import claim_verdict, page_summary

page_summary(records, extra=claim_verdict("npad.explore_maps", experiment.frame(shown), records));
