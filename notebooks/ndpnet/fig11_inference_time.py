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
# NDP-Net's time (`paper_values/ndpnet_fig11_points.csv`, read as ms on a V100) and Table II gives each method's mean image AUROC:
# those are the paper's points we can place (`paper_values/ndpnet_fig11_points.csv`).

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seed = 0
methods = None         # None: the profile's `timing` list

# %%
import matplotlib.pyplot as plt

from defectbook.book import paper_values
from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec
from defectbook.pipeline.spec import LABELS

S = spec.chapter("ndpnet", profile, data_root=data_root)
N = S.grids
dataset, cat = S.pair(N["timing_category"])
methods = methods or N["timing"]
records = experiment.run_many([S.config(m, dataset, cat, seed=seed) for m in methods],
                              desc="fig11")
df = experiment.frame(records)
df["model"] = df["method"].map(LABELS)
df["ms per image"] = 1000.0 / df["predict_images_per_s"]
df["device"] = [r.env.get("machine", "") + (" + CUDA" if r.env.get("cuda") else " CPU") for r in records]
table = df[["model", "ms per image", "image_auroc", "pixel_auroc", "fit_s", "peak_rss_mb", "device"]]
show(table.sort_values("ms per image"), index=False)
show(provenance(records))

# %%
paper = paper_values.load("ndpnet_fig11_points", scale=1.0)
fig, ax = plt.subplots(1, 2, figsize=(11, 4))
for _, r in df.iterrows():
    ax[0].scatter(r["ms per image"], r["image_auroc"], color="C3" if r["method"] == "ndpnet" else "C0")
    ax[0].annotate(r["model"], (r["ms per image"], r["image_auroc"]), fontsize=7)
ax[0].set_xscale("log"); ax[0].set_xlabel("ms per image (this machine)"); ax[0].set_ylabel("image AUROC")
ax[0].set_title(f"ours: {dataset}:{cat}", fontsize=9)
known = paper.dropna(subset=["ms_per_image"])
ax[1].barh(paper["method"], paper["image_auroc_percent"] / 100, color=["C3" if m == "NDP-Net" else "C0" for m in paper["method"]])
for _, r in known.iterrows():
    ax[1].annotate(f"{r['ms_per_image']} ms", (r["image_auroc_percent"] / 100, r["method"]), fontsize=7)
ax[1].set_xlim(0.4, 1.0); ax[1].set_xlabel("mean image AUROC, MVTec AD textures (Table II)")
ax[1].set_title("paper: times only for NDP-Net are printed", fontsize=9)
plt.tight_layout()
plt.show()
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary and verdict: NDP-Net's image AUROC above AE-SSIM's (the paper's Fig. 11 points).
from defectbook.book.report import claim_verdict, page_summary

pts = paper.set_index("method")["image_auroc_percent"] / 100
page_summary(globals(), extra=claim_verdict(
    df, "method", "ndpnet", "ae_ssim", "image_auroc",
    f"NDP-Net detects better than AE-SSIM (Fig. 11, image AUROC from Table II); ours on {dataset}:{cat}",
    paper_effect=float(pts["NDP-Net"] - pts["AE-SSIM"])));
