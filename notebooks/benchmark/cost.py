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
import time

import matplotlib.pyplot as plt
import pandas as pd
import torch

from defectbook.book.report import page_summary, provenance, show
from defectbook.components.backbones import FeatureExtractor
from defectbook.config import data_label
from defectbook.data.prepare import prepare
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("benchmark", profile, data_root=data_root)
T, LABELS = S.grids, spec.LABELS
methods = methods or S.compare
pairs = S.pairs()
want = T["cost_data"].split(":")
pair = next(((d, c) for d, c in pairs if d == want[0] and (c or "") == (want[1] if len(want) > 1 else "")), pairs[0])
configs = [S.config(m, *pair, seed=S.seeds[0]) for m in methods]
records = experiment.run_many(configs, desc="cost")

# %% [markdown]
# The feature methods share backbone features through the build's feature cache (PaDiM, N-pad,
# PatchCore and SPADE on the same images and layers; DifferNet, OCSVM and 1-NN on the same images and
# transforms), so a record computed after another method extracted the same features times its own
# arithmetic alone; its record says so (`feature_cache_hits`). With `remeasure_shared` (smoke, paper)
# those are measured again here with the cache off, in a throwaway store (the book's records are not
# touched); without it (cpu: a second feature extraction costs minutes) the table marks them.

# %%
import tempfile

from defectbook.components.features import FEATURES
from defectbook.pipeline.store import Store


def floor_key(cfg):
    p, t = cfg["params"], cfg["transform"]
    return p.get("backbone"), tuple(p.get("layers") or [p.get("layer")]), t["resize"], t.get("crop")


# %% [markdown]
# ## The backbone floor
# Forward time of each pretrained backbone through the deepest layer a method reads, at that method's
# image size, in batches of 16 (`floor_images` test images, after one warm-up batch), on this machine.


# %%
def floor(cfg) -> dict | None:
    """Images/s of the method's pretrained backbone alone (None for methods trained from scratch)."""
    p = cfg["params"]
    if not p.get("backbone"):
        return None
    layers = list(p.get("layers") or [p["layer"]]) + ([p["global_layer"]] if p.get("global_layer") else [])
    ext = FeatureExtractor(p["backbone"], layers, weights=p.get("weights")).eval()
    x = prepare(cfg).test[: T["floor_images"]]
    with torch.no_grad():
        ext(x[:16])
        t0 = time.perf_counter()
        for i in range(0, len(x), 16):
            ext(x[i:i + 16])
        dt = time.perf_counter() - t0
    return {"backbone": f"{p['backbone']} to {layers[-1] if len(layers) == 1 else max(layers)}",
            "floor images/s": len(x) / max(dt, 1e-9)}


floors = {}
for cfg in configs:
    if floor_key(cfg) not in floors:
        floors[floor_key(cfg)] = floor(cfg)
remeasured = []
scratch = Store(tempfile.mkdtemp(prefix="defectbook-cost-"))
for i, (cfg, r) in enumerate(zip(configs, records)):
    if r.extras.get("feature_cache_hits", 0) > 0:     # its features were extracted by an earlier run
        if T["remeasure_shared"]:
            with FEATURES.off():
                records[i] = experiment.run(cfg, store=scratch, force=True)
        remeasured.append(LABELS[r.config["method"]])
rows = []
for cfg, r in zip(configs, records):
    t = cfg["transform"]
    f = floors[floor_key(cfg)] or {}
    rows.append({"method": LABELS[r.config["method"]], "image size": t.get("crop") or t["resize"],
                 "training images": r.extras["split"]["n_train"], "fit (s)": r.timings["fit_s"],
                 "predict (images/s)": r.timings["predict_images_per_s"], "peak RSS (MB)": r.memory.get("peak_rss_mb"),
                 "backbone floor (images/s)": f.get("floor images/s"), "backbone": f.get("backbone", "trained from scratch")})
cost = pd.DataFrame(rows).set_index("method")
cost["floor share"] = cost["predict (images/s)"] / cost["backbone floor (images/s)"]

# %% [markdown]
# ## The cost table
# `floor share`: the method's inference speed as a share of its backbone's (1 = the method adds nothing
# to the forward pass; empty for methods trained from scratch, which have no pretrained backbone). The
# floor is timed in this kernel, a method when its record was computed: on a shared machine the load can
# differ between the two, so a share near or above 1 says "no slower than its backbone", not more.

# %%
show(cost.sort_values("fit (s)"))
show(f"Data: {data_label(configs[0])}, {len(records[0].labels)} test images; threads: {torch.get_num_threads()}; "
     f"floor measured in this kernel, the methods' times when their records were computed"
     + ("" if not remeasured else f", except {', '.join(remeasured)}: measured again in this kernel with the "
        "feature cache off" if T["remeasure_shared"] else f"; {', '.join(remeasured)}: backbone features served by the build's "
        "feature cache from an earlier run (their feature extraction is not in their times)")
     + ".")
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
page_summary(globals(), extra=(f"Fastest fit: {cost['fit (s)'].idxmin()} ({cost['fit (s)'].min():.1f} s); slowest: "
                               f"{cost['fit (s)'].idxmax()} ({cost['fit (s)'].max():.1f} s); fastest inference: "
                               f"{cost['predict (images/s)'].idxmax()} ({cost['predict (images/s)'].max():.1f} images/s)."))
