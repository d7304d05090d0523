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
# `1 - SSIM` (F). Every variant is trained with the same settings and seed. B and C are models of
# their own; D, E and F are the full model A with another test map: the focal loss `L_seg` trains the
# MSDSM heads only (they read detached features, so no gradient of theirs reaches the decoder or the
# RBAM), so a model trained without the MSDSM would have the same reconstruction network, and one
# training serves the four segmentations. Every score is the map's maximum, as NDP-Net's. The deltas
# are ours minus the full model's, with a paired bootstrap interval (95 percent) over test images
# (image AUROC: `metrics.auroc_difference`; pixel AUROC: `metrics.pixel_auroc_difference`). The paper
# prints Table VI as an image; its deltas are quoted from its text (Sec. IV-D).

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seed = 0
n_boot = 200

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from defectbook.book import paper_values
from defectbook.book.report import provenance, show
from defectbook.evaluation import metrics
from defectbook.methods.ndpnet import ABLATIONS
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("ndpnet", profile, data_root=data_root)
dataset, cat = S.pair(S.grids["ablation_category"])
trained = {name: sw for name, sw in ABLATIONS.items() if "segmentation" not in sw}     # A, B, C
cfgs = {name: S.config("ndpnet", dataset, cat, seed=seed, **sw) for name, sw in trained.items()}
records = {name: experiment.run(c) for name, c in cfgs.items()}
labels, maps, prep = np.array(records["A: NDP-Net"].labels), {}, None
for name, c in cfgs.items():
    det, prep = experiment.fitted(c)
    if name == "A: NDP-Net":
        a = det.analyse(prep.test)
        for v, sw in ABLATIONS.items():
            if "segmentation" in sw or v == name:
                maps[v] = a[sw.get("segmentation", "msdsm")].numpy()
    else:
        maps[name] = det.analyse(prep.test, ("msdsm",))["msdsm"].numpy()
maps = {v: maps[v] for v in ABLATIONS}                 # Table VI's order
masks = prep.masks.numpy()

# %%
scores = {v: m.reshape(len(m), -1).max(1) for v, m in maps.items()}
rows = []
for name in ABLATIONS:
    ev = metrics.evaluate(labels, scores[name], masks, maps[name])
    row = {"variant": name, "model": "A" if name not in trained else name[0], "image AUROC": ev["image_auroc"],
           "pixel AUROC": ev["pixel_auroc"], "PRO": ev["aupro"]}
    if name != "A: NDP-Net":
        di = metrics.auroc_difference(labels, scores[name], scores["A: NDP-Net"], n_boot=n_boot, seed=seed)
        dp = metrics.pixel_auroc_difference(masks, maps[name], maps["A: NDP-Net"], n_boot=n_boot, seed=seed)
        row |= {"Δ image": di["difference"], "Δ image 95% CI": f"[{di['low']:+.3f}, {di['high']:+.3f}]",
                "Δ pixel": dp["difference"], "Δ pixel 95% CI": f"[{dp['low']:+.3f}, {dp['high']:+.3f}]",
                "pixel AUROC lower": dp["difference"] < 0}
    rows.append(row)
ours = pd.DataFrame(rows)
show(ours, index=False, digits=4)
show(provenance(list(records.values()), extra=f"{n_boot} bootstrap resamples; model: the trained model each row uses"))

# %% [markdown]
# ## The paper's deltas (text of Sec. IV-D, MVTec AD wood)

# %%
paper = paper_values.load("ndpnet_table6_ablation_deltas")
show(paper, index=False, digits=2)

# %% [markdown]
# ## Fig. 13: the anomaly maps of each variant

# %%
idx = [i for i in range(len(masks)) if masks[i].any()][:4]
fig, ax = plt.subplots(len(idx), 2 + len(maps), figsize=(2 * (2 + len(maps)), 2 * len(idx)), squeeze=False)
for j, i in enumerate(idx):
    ax[j, 0].imshow(prep.test[i].permute(1, 2, 0).numpy())
    ax[j, 1].imshow(masks[i], cmap="gray")
    for k, (name, m) in enumerate(maps.items()):
        ax[j, 2 + k].imshow(m[i], cmap="jet")
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
from defectbook.book.report import claim_verdict, page_summary

full = ours.set_index("variant").loc["A: NDP-Net", "pixel AUROC"]      # every variant beside the full model A
pairs = pd.DataFrame([{"variant": v, "model": m, "pixel_auroc": x}
                      for v, y in zip(ours["variant"], ours["pixel AUROC"]) if v != "A: NDP-Net"
                      for m, x in (("full model", full), ("variant", y))])
page_summary(globals(), extra=claim_verdict(
    pairs, "model", "full model", "variant", "pixel_auroc",
    "every part of NDP-Net helps: the full model above each variant B-F, pixel AUROC (Table VI; paper: the mean of "
    "the quoted drops)", pair_on=("variant",), paper_effect=float(-paper["delta_pixel_auroc"].mean())));
