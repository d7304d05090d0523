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
# # NDP-Net Table VI and Fig. 13: ablation
#
# ```{glue:md} summary
# :format: myst
# ```
#
# On the profile's ablation category (the paper: MVTec AD wood): the full model (A), without RBAM
# (B: the decoder gets the encoder's features unrepaired), without `L_def_per` (C), and the MSDSM
# replaced by the pixel gap `|I - recon|` (D), the multi-scale feature residual MSFR (E) and
# `1 - SSIM` (F). Every variant is trained with the same settings and seed. The deltas are ours minus
# the full model's, with a paired bootstrap interval (95 percent) over test images (image AUROC:
# `metrics.auroc_difference`; pixel AUROC: `metrics.pixel_auroc_difference`). The paper prints
# Table VI as an image; its deltas are quoted from its text (Sec. IV-D).

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seed = 0
n_boot = 200

# %%
import matplotlib.pyplot as plt
import pandas as pd

from defectbook import experiment, metrics, paper_values, spec
from defectbook.methods.ndpnet import ABLATIONS
from defectbook.report import provenance, show

S = spec.chapter("ndpnet", profile, data_root=data_root)
dataset, cat = S.pair(S.grids["ablation_category"])
records = {name: experiment.run(S.config("ndpnet", dataset, cat, seed=seed,
                                               save_maps=10**6, **switches))
           for name, switches in ABLATIONS.items()}

# %%
full = records["A: NDP-Net"]
full_maps = full.maps()
rows = []
for name, r in records.items():
    row = {"variant": name, "image AUROC": r.metrics["image_auroc"], "pixel AUROC": r.metrics["pixel_auroc"],
           "PRO": r.metrics["aupro"]}
    if r is not full:
        di = metrics.auroc_difference(r.labels, r.scores, full.scores, n_boot=n_boot, seed=seed)
        dp = metrics.pixel_auroc_difference(full_maps["masks"], r.maps()["maps"].astype("float32"),
                                            full_maps["maps"].astype("float32"), n_boot=n_boot, seed=seed)
        row |= {"Δ image": di["difference"], "Δ image 95% CI": f"[{di['low']:+.3f}, {di['high']:+.3f}]",
                "Δ pixel": dp["difference"], "Δ pixel 95% CI": f"[{dp['low']:+.3f}, {dp['high']:+.3f}]",
                "pixel AUROC lower": dp["difference"] < 0}
    rows.append(row)
ours = pd.DataFrame(rows)
show(ours, index=False, digits=4)
show(provenance(list(records.values()), extra=f"{n_boot} bootstrap resamples"))

# %% [markdown]
# ## The paper's deltas (text of Sec. IV-D, MVTec AD wood)

# %%
paper = paper_values.load("ndpnet_table6_ablation_deltas")
show(paper, index=False, digits=2)

# %% [markdown]
# ## Fig. 13: the anomaly maps of each variant

# %%
n = min(4, int((full_maps["masks"].reshape(len(full_maps["masks"]), -1).any(1)).sum()))
idx = [i for i in range(len(full_maps["masks"])) if full_maps["masks"][i].any()][:n]
fig, ax = plt.subplots(len(idx), 2 + len(records), figsize=(2 * (2 + len(records)), 2 * len(idx)), squeeze=False)
for j, i in enumerate(idx):
    ax[j, 0].imshow(full_maps["images"][i])
    ax[j, 1].imshow(full_maps["masks"][i], cmap="gray")
    for k, (name, r) in enumerate(records.items()):
        ax[j, 2 + k].imshow(r.maps()["maps"][i].astype("float32"), cmap="jet")
        if j == 0:
            ax[j, 2 + k].set_title(name, fontsize=8)
ax[0, 0].set_title("input", fontsize=8)
ax[0, 1].set_title("ground truth", fontsize=8)
for a in ax.flat:
    a.set_xticks([]); a.set_yticks([])
plt.tight_layout()
plt.show()
show(provenance(list(records.values())))

# %% tags=["remove-cell"]
# Page summary and verdict: the full model (A) above every variant B-F (Table VI, pixel AUROC).
from defectbook.report import claim_verdict, page_summary

pairs = pd.DataFrame([{"variant": v, "model": m, "pixel_auroc": x.metrics["pixel_auroc"]}
                      for v, r in records.items() if r is not full
                      for m, x in (("full model", full), ("variant", r))])
page_summary(globals(), extra=claim_verdict(
    pairs, "model", "full model", "variant", "pixel_auroc",
    "every part of NDP-Net helps: the full model above each variant B-F, pixel AUROC (Table VI; paper: the mean of "
    "the quoted drops)", pair_on=("variant",), paper_effect=float(-paper["delta_pixel_auroc"].mean())));
