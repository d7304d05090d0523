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
from defectbook.analysis import ndpnet
from defectbook.book import paper_values
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("ndpnet", profile, data_root=data_root, seeds=seeds)
classes = [(d, c) for d, c in chapter.pairs(categories=[], real=["dagm"]) if d == "dagm"]
records = []
if not classes:
    show("**DAGM is not present under the data root** (no `dagm/ClassN/Train` folders): Table V is not "
         "reproduced in this build; only the paper's values are shown below.")
else:
    configs = [chapter.config("ndpnet", d, c, seed=s) for d, c in classes for s in chapter.seeds]
    records = experiment.run_many(configs, desc="ndpnet table 5")
    show(ndpnet.dagm_table(records), index=False, digits=4)
show(provenance(records))

# %% [markdown]
# ## The paper's Table V (standard deviation in percentage points)

# %%
paper = paper_values.load("ndpnet_table5_dagm")
show(paper, index=False, digits=2)

# %% tags=["remove-cell"]
# Page summary and verdict: NDP-Net's pixel AUROC on DAGM above the best other method of Table V (ACDN).
page_summary(records, extra=claim_verdict(
    "ndpnet.table5_dagm", records=records, **ndpnet.dagm_claim(records, paper.set_index("method"))));
