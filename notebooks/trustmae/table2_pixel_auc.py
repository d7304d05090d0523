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
# # TrustMAE Table 2: pixel AUROC per category
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Noise-free training; the segmentation map is the reconstruction error itself (TrustMAE:
# squared error x perceptual distance; AE-L2 and MemAE: squared error; AE-SSIM: 1 - SSIM).
# We run TrustMAE and the three baselines we implement (AE-L2, AE-SSIM, MemAE); the other rows of
# the paper's table are quoted. Every number of ours is computed by `defectbook.pipeline.run.run`.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seeds = None
categories = None      # None: the profile's TrustMAE table categories

# %%
import matplotlib.pyplot as plt

from defectbook.analysis import trustmae
from defectbook.book import paper_values, plotting
from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("trustmae", profile, data_root=data_root, seeds=seeds)
pairs = chapter.categories(categories or chapter.grids["table_categories"])
records = experiment.run_many([chapter.config(m, d, c, seed=s) for m in chapter.methods for d, c in pairs
                               for s in chapter.seeds], desc="table2")
df = trustmae.pixel_frame(records)

# %%
ours = trustmae.category_table(df, "model", "data", "pixel_auroc")  # synthetic:wood, mvtec:wood
show(ours)
show("AUPRO (FPR ≤ 0.3; not reported by the paper):")
show(df.pivot_table(index="model", columns="data", values="aupro", aggfunc="mean"))
show(provenance(records))

# %% [markdown]
# ## The paper's Table 2 (MVTec AD)

# %%
paper = paper_values.load("trustmae_table2").set_index("method")
# The paper's mean, and its categories that we ran on real MVTec AD (never a synthetic namesake).
show(paper[["mean"] + [c for c in paper.columns if f"mvtec:{c}" in ours.columns and c != "mean"]])

# %% tags=["remove-cell"]
# Page summary and the headline number for the book's intro.
from defectbook.book.report import claim_verdict, page_summary  # noqa: E402

page_summary(records, extra=(
    trustmae.clean_training_text(df.data, df.seed, "pixel AUROC", ours["mean"])
    + "\n\n" + claim_verdict("trustmae.table2_pixel_vs_memae", df, records,
        paper_effect=float(paper.loc["TrustMAE-noise free", "mean"]
                                                - paper.loc["MemAE [12]", "mean"]))));

# %% [markdown]
# ## Maps beside the ground truth (first category)

# %%
first = [r for r in records if r.config["category"] == pairs[0][1] and r.maps()]
if first:
    plotting.anomaly_grid([r.maps() for r in first], [spec.LABELS[r.config["method"]] for r in first], n=5,
                          suptitle=f"{pairs[0][0]}:{pairs[0][1]}")
    plt.show()
    show(provenance(first))
