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
# # What each method costs
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Fit time, inference speed (test images per second, whole `predict`: feature extraction, scoring,
# maps) and peak memory (resident set size of the process during fit and predict) of every method on one
# data set (`cost_data`), read from the records the runner wrote when it ran them
# (`Record.timings`, `Record.memory`): the same runs as the comparison on the first page. Each method
# keeps its own chapter's settings, so image sizes differ (the table says which). The floor: the
# pretrained backbone's own forward pass through the layers a method reads, timed here on the same test
# images; a method that extracts features cannot predict faster than it. Times depend on the machine
# and its load: compare methods within one run (the provenance line names the device and commit).

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None       # folder with mtd/; None: DEFECTBOOK_DATA
methods = None         # None: every method of the book

# %%
import matplotlib.pyplot as plt

from defectbook.analysis import benchmark
from defectbook.book.report import page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("benchmark", profile, data_root=data_root)
methods = methods or chapter.compare
pair = benchmark.cost_pair(chapter)
configs = [chapter.config(m, *pair, seed=chapter.seeds[0]) for m in methods]
records = experiment.run_many(configs, desc="cost")

# %% [markdown]
# The feature methods share backbone features through the build's feature cache (PaDiM, N-pad,
# PatchCore and SPADE on the same images and layers; DifferNet, OCSVM and 1-NN on the same images and
# transforms), so a record computed after another method extracted the same features times its own
# arithmetic alone; its record says so (`feature_cache_hits`). With `remeasure_shared` (smoke, paper)
# those are measured again here with the cache off, in a throwaway store (the book's records are not
# touched); without it (cpu: a second feature extraction costs minutes) the table marks them.

# %%
records, remeasured = benchmark.remeasure_shared(configs, records, chapter.grids["remeasure_shared"])

# %% [markdown]
# ## The backbone floor
# Forward time of each pretrained backbone through the deepest layer a method reads, at that method's
# image size, in batches of 16 (`floor_images` test images, after one warm-up batch), on this machine.

# %%
floors = benchmark.backbone_floors(configs, chapter.grids["floor_images"])
cost = benchmark.cost_table(configs, records, floors)

# %% [markdown]
# ## The cost table
# `floor share`: the method's inference speed as a share of its backbone's (1 = the method adds nothing
# to the forward pass; empty for methods trained from scratch, which have no pretrained backbone). The
# floor is timed in this kernel, a method when its record was computed: on a shared machine the load can
# differ between the two, so a share near or above 1 says "no slower than its backbone", not more.

# %%
show(cost.sort_values("fit (s)"))
show(benchmark.cost_note(configs, records, remeasured, chapter.grids["remeasure_shared"]))
show(provenance(records))

# %% [markdown]
# ## Fit time against inference speed

# %%
fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
c = cost.sort_values("fit (s)")
ax[0].barh(c.index, c["fit (s)"], color="tab:blue")
ax[0].set_xscale("log")
ax[0].set_xlabel("fit time (s, log scale)")
ax[1].barh(c.index, c["predict (images/s)"], color="tab:orange", label="method")
ax[1].scatter(c["backbone floor (images/s)"], c.index, color="black", marker="|", s=200, label="backbone alone")
ax[1].set_xscale("log")
ax[1].set_xlabel("inference (test images/s, log scale)")
ax[1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
ax[1].tick_params(labelleft=False)
plt.tight_layout()
plt.show()
show(provenance(records))

# %% tags=["remove-cell"]
page_summary(records, extra=benchmark.cost_summary(cost))
