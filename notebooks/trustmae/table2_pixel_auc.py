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

from defectbook.book import paper_values, plotting
from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("trustmae", profile, data_root=data_root, seeds=seeds)
seeds, LABELS = S.seeds, spec.LABELS
cats = S.categories(categories or S.grids["table_categories"])
configs = [S.config(m, d, c, seed=s) for m in S.methods for d, c in cats for s in seeds]
records = experiment.run_many(configs, desc="table2")
df = experiment.frame(records)
df["model"] = df["method"].map({**LABELS, "ae_l2": "AE-L2"})

# %%
ours = df.pivot_table(index="model", columns="data", values="pixel_auroc", aggfunc="mean")  # synthetic:wood, mvtec:wood
ours.insert(0, "mean", ours.mean(axis=1))
show(ours)
aupro = df.pivot_table(index="model", columns="data", values="aupro", aggfunc="mean")
show("AUPRO (FPR ≤ 0.3; not reported by the paper):")
show(aupro)
show(provenance(records))

# %% [markdown]
# ## The paper's Table 2 (MVTec AD)

# %%
paper = paper_values.load("trustmae_table2").set_index("method")
# The paper's mean, and its categories that we ran on real MVTec AD (never a synthetic namesake).
show(paper[["mean"] + [c for c in paper.columns if f"mvtec:{c}" in ours.columns and c != "mean"]])

# %% tags=["remove-cell"]
# Page summary and the headline number for the book's intro.
from defectbook.book.report import claim_verdict, glue_text  # noqa: E402

glue_text("summary", (
    f"Noise-free training on {', '.join(sorted(df.data.unique()))} (seeds {', '.join(map(str, sorted(df.seed.unique())))}). "
    "Mean pixel AUROC: " + ", ".join(f"{m} {v:.3f}" for m, v in ours["mean"].items()) + ".\n\n"
    + claim_verdict(df, "model", "TrustMAE", "MemAE", "pixel_auroc", "TrustMAE above MemAE, pixel AUROC (Table 2)",
                    paper_effect=float(paper.loc["TrustMAE-noise free", "mean"] - paper.loc["MemAE [12]", "mean"]))))

# %% [markdown]
# ## Maps beside the ground truth (first category)

# %%
first = [r for r in records if r.config["category"] == cats[0][1] and r.maps()]
if first:
    plotting.anomaly_grid([r.maps() for r in first], [LABELS[r.config["method"]] for r in first], n=5,
                          suptitle=f"{cats[0][0]}:{cats[0][1]}")
    plt.show()
    show(provenance(first))
