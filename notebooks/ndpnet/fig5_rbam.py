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
# # NDP-Net Figs. 3 and 5: the reference-based attention module
#
# ```{glue:md} summary
# :format: myst
# ```
#
# **Fig. 3(c)**: RBFRM applied to the *pixels* of a defective image with the fixed reference
# image, for patch sizes K = 2, 4, 8, 16 (`defectbook.methods.ndpnet.rbfrm`): the larger K, the
# more the defect is suppressed and the more a patch "checkerboard" replaces the texture.
# **Fig. 5**: the trained model's layer-3 features (channel mean) of a defective image, of the
# reference image, and the repaired output of the RBAM, with the reconstruction. Below: the FFM's
# mean branch weights per layer (how much of `F_ad`, `F_rep2`, `F_rep4` the fusion keeps), inside
# and outside the defect.
#
# RGB patches of one texture all have cosine similarities close to 1, so at the pixel level the
# model's softmax scale averages every reference patch into one flat colour; the pixel-level
# illustration therefore uses a sharp softmax (`pixel_scale`, 1000: close to picking the most similar
# reference patch), and the feature-level panels use the trained model's scale.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seed = 0
pixel_scale = 1000.0   # softmax scale of the pixel-level RBFRM illustration

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from defectbook.book.report import provenance, show
from defectbook.book.report import table as md_table
from defectbook.methods.ndpnet import rbfrm
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("ndpnet", profile, data_root=data_root)
dataset, cat = S.pair(S.grids["ablation_category"])
cfg = S.config("ndpnet", dataset, cat, seed=seed)
record = experiment.run(cfg)
det, prep = experiment.fitted(cfg)
i = int(np.flatnonzero(prep.labels == 1)[0])
x, ref = prep.test[i : i + 1], det.reference_image[None]

# %%
ks = [k for k in (2, 4, 8, 16) if x.shape[-1] % k == 0]
fig, ax = plt.subplots(1, 2 + len(ks), figsize=(2.2 * (2 + len(ks)), 2.6))
ax[0].imshow(x[0].permute(1, 2, 0)); ax[0].set_title("(1) defective", fontsize=8)
ax[1].imshow(ref[0].permute(1, 2, 0)); ax[1].set_title("(2) reference", fontsize=8)
for j, k in enumerate(ks):
    ax[2 + j].imshow(rbfrm(x, ref, k, pixel_scale)[0].clamp(0, 1).permute(1, 2, 0))
    ax[2 + j].set_title(f"({3 + j}) RBFRM K={k}", fontsize=8)
for a in ax:
    a.set_xticks([]); a.set_yticks([])
plt.tight_layout()
plt.show()
show(provenance([record], extra=f"pixel-level RBFRM, softmax scale {pixel_scale}"))

# %%
d = det.rbam_details(x)[0]            # encoder layer 3
rec = det.analyse(x)["recon"]
panels = [("(a) defective", x[0].permute(1, 2, 0)), ("(b) reference", ref[0].permute(1, 2, 0)),
          ("(c) reconstruction", rec[0].permute(1, 2, 0)), ("(d) F_ad, layer 3", d["f_ad"][0].mean(0)),
          ("(e) F_ref, layer 3", d["reference"][0].mean(0)), ("(f) repaired F_out", d["f_out"][0].mean(0))]
if "repaired" in d:
    panels += [(f"F_rep{k}", r[0].mean(0)) for k, r in zip(det.ks, d["repaired"])]
fig, ax = plt.subplots(1, len(panels), figsize=(2.2 * len(panels), 2.6))
for a, (t, im) in zip(ax, panels):
    a.imshow(im.numpy() if im.ndim == 2 else im.clamp(0, 1).numpy(), cmap="viridis" if im.ndim == 2 else None)
    a.set_title(t, fontsize=8); a.set_xticks([]); a.set_yticks([])
plt.tight_layout()
plt.show()
show(provenance([record]))

# %%
test_bad = prep.test[torch.from_numpy(prep.labels == 1)][:8]
masks = prep.masks[torch.from_numpy(prep.labels == 1)][:8] if prep.masks is not None else None
rows = []
for dl in det.rbam_details(test_bad):
    if "weights" not in dl:
        continue
    w = dl["weights"]                                             # [N, 3, C, h, w]
    wm = w.mean(2)                                                # [N, 3, h, w]
    row = {"layer": dl["layer"]}
    for b, name in enumerate(["F_ad", *[f"F_rep{k}" for k in det.ks]]):
        row[name] = float(wm[:, b].mean())
        if masks is not None:
            m = F.interpolate(masks[:, None].float(), size=wm.shape[-2:], mode="area")[:, 0] > 0.5
            if m.any():
                row[f"{name} in defect"] = float(wm[:, b][m].mean())
    rows.append(row)
show("Mean FFM branch weights on defective test images:\n\n" + md_table(pd.DataFrame(rows), index=False))
show(provenance([record]))

# %% tags=["remove-cell"]
# Page summary and verdict: the RBAM repairs defective features (measured: FFM weight on repaired branches in defects).
from defectbook.book.report import claim_verdict, page_summary

reps = [f"F_rep{k}" for k in det.ks]
weights = pd.DataFrame([{"layer": r["layer"], "branch": b, "where": w, "weight": r.get(col)}
                        for r in rows for b in reps
                        for w, col in (("in defect", f"{b} in defect"), ("everywhere", b)) if col in r])
page_summary(globals(), extra=claim_verdict(
    weights, "where", "in defect", "everywhere", "weight",
    "the RBAM replaces defective features by repaired ones (Sec. III-B, Figs. 3 and 5); ours: the FFM's weight on "
    "the repaired branches inside defects against everywhere, paired by layer and branch",
    pair_on=("layer", "branch")));
