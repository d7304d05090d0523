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
# # NDP-Net Fig. 11: inference time against detection performance
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Every method of the book on one split (the profile's `timing_category`), trained and tested in
# this run on this machine: inference time per test image (the runner's timed `predict` over the
# whole test set, divided by the number of images; batch sizes as each method's settings) against
# image AUROC. The paper's Fig. 11 is a plot whose points are not printed as numbers; its text gives
# NDP-Net's time (`paper_values/ndpnet_fig11_points.csv`, read as ms on a V100) and Table II gives each method's mean
# image AUROC: those are the paper's points we can place (`paper_values/ndpnet_fig11_points.csv`).

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seed = 0
methods = None         # None: the profile's `timing` list

# %%
from defectbook.analysis import ndpnet
from defectbook.book import paper_values, plotting
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("ndpnet", profile, data_root=data_root)
dataset, cat = chapter.pair(chapter.grids["timing_category"])
methods = methods or chapter.grids["timing"]
records = experiment.run_many([chapter.config(m, dataset, cat, seed=seed) for m in methods],
                              desc="fig11")
df = ndpnet.timing_frame(records)
show(df[ndpnet.TIMING_COLUMNS].sort_values("ms per image"), index=False)
show(provenance(records))

# %%
paper = paper_values.load("ndpnet_fig11_points", scale=1.0)
plotting.inference_time(df, paper, f"ours: {dataset}:{cat}")
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary and verdict: NDP-Net's image AUROC above AE-SSIM's (the paper's Fig. 11 points).
page_summary(records, extra=claim_verdict(
    "ndpnet.fig11_vs_ae_ssim", records=records, **ndpnet.timing_claim(df, paper)));
