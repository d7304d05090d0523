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
# # NDP-Net Table V: pixel AUROC on DAGM's ten texture classes
#
# ```{glue:md} summary
# :format: myst
# ```
#
# One NDP-Net per DAGM class (training on the defect-free `Train` images), pixel AUROC per class,
# their mean and standard deviation, beside the paper's Table V. DAGM is used where a `dagm/`
# folder lies under the data root; without it this notebook computes nothing and says so.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seeds = None

# %%
from defectbook.book import paper_values
from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("ndpnet", profile, data_root=data_root, seeds=seeds)
seeds = S.seeds
classes = S.pairs(categories=[], real=["dagm"])
classes = [(d, c) for d, c in classes if d == "dagm"]
records = []
if not classes:
    show("**DAGM is not present under the data root** (no `dagm/ClassN/Train` folders): Table V is not "
         "reproduced in this build; only the paper's values are shown below.")
else:
    configs = [S.config("ndpnet", d, c, seed=s) for d, c in classes for s in seeds]
    records = experiment.run_many(configs, desc="ndpnet table 5")
    df = experiment.frame(records)
    per = df.groupby("category")["pixel_auroc"].mean()
    row = per.to_frame().T
    row["average"], row["standard deviation"] = per.mean(), per.std(ddof=0)
    show(row, index=False, digits=4)
show(provenance(records))

# %% [markdown]
# ## The paper's Table V (standard deviation in percentage points)

# %%
show(paper_values.load("ndpnet_table5_dagm"), index=False, digits=2)

# %% tags=["remove-cell"]
# Page summary and verdict: NDP-Net's pixel AUROC on DAGM above the best other method of Table V (ACDN).
from defectbook.book.report import claim_verdict, page_summary

p5 = paper_values.load("ndpnet_table5_dagm").set_index("method")["average"]
page_summary(globals(), extra=claim_verdict(
    experiment.frame(records), "method", "ndpnet", "ACDN", "pixel_auroc",
    "NDP-Net above every other method of Table V on DAGM, the best of them ACDN; ours: NDP-Net's pixel AUROC per "
    "class against ACDN's printed average", reference=float(p5["ACDN"])));
