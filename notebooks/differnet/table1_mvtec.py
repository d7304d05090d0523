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
# # DifferNet Table 1: image AUROC per category, full training set and 16 shots
#
# ```{glue:md} summary
# :format: myst
# ```
#
# DifferNet's Table 1 reports image AUROC on the 15 MVTec AD categories for DifferNet trained on
# the full training set and on 16 images, beside OCSVM and 1-NN computed on the same features
# (and three other methods we do not reimplement). MVTec AD is not available offline, so the `cpu`
# profile runs the synthetic MVTec-layout categories of `defectbook.data.synthetic` (textures and
# objects, *not* MVTec images); MVTec categories are added wherever the data root holds them
# (`paper` profile). The paper's values are shown beside ours only for real MVTec categories, and
# its average beside our average with that caveat.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None       # folder holding mvtec/; None: DEFECTBOOK_DATA
seeds = None           # None: the profile's seeds
categories = None      # synthetic categories; None: the profile's
epochs = None          # DifferNet epochs; None: the profile's
shots = None           # the few-shot column's training-set size; None: the profile's (paper: 16)

# %%
from defectbook.analysis import differnet
from defectbook.book import paper_values
from defectbook.book.report import claim_verdict, glue_values, page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("differnet", profile, data_root=data_root, seeds=seeds, epochs=epochs)
columns = differnet.table1_columns(shots or chapter.grids["few_shot_n"])   # column -> (method, split)
configs, column_of = differnet.table1_configs(chapter, columns, categories)
records = experiment.run_many(configs, desc="differnet table 1")

# %% [markdown]
# ## Image AUROC per category (mean over seeds)

# %%
df = experiment.frame(records).assign(column=column_of)
table = differnet.table1_table(df, columns)
show(table)
show(provenance(records))

# %% [markdown]
# ## Beside the paper
# Paper values (MVTec AD) for the categories we ran on real MVTec data; the `mean` rows put the
# paper's 15-category average beside our mean over whatever categories ran. Synthetic categories
# (`synthetic:...`) share some names with MVTec's but are different images: their paper cell is
# empty and no difference is computed for them or for a synthetic mean.

# %%
paper = paper_values.load("differnet_table1_mvtec").set_index("category")
beside = differnet.table1_beside_paper(table, paper)
show(beside[beside.data.str.endswith(":mean")], index=False)
if (beside.data.str.startswith("mvtec:") & ~beside.data.str.endswith(":mean")).any():
    show(beside[beside.data.str.startswith("mvtec:")], index=False)
show(provenance(records, extra="paper: MVTec AD, AlexNet, 448 px, best epoch on test (official code)"))

# %% tags=["remove-cell"]
# Page summary (glued into the top of the page) and the headline number for the book's intro.
glue_values(differnet.headline(df, paper))
page_summary(records, extra=differnet.table1_means_text(df, columns) + "\n\n"
             + claim_verdict("differnet.table1_vs_knn_ocsvm", records=records, **differnet.table1_claim(df, paper)));
