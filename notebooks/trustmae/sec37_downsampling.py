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
# # TrustMAE Sec. 3.7: 3 against 5 down-sampling layers
#
# The number of down-sampling layers sets the patch size each memory slot stands for. The paper
# uses 5 except on grid, screw, pill and capsule, where 3 (smaller patches) work better. The
# profile names the two settings compared: at the paper's 256 px they are 3 and 5; the cpu
# profile's 64 px images use 1 and 3, which give the same latent grids (32x32 and 8x8).

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seeds = None
categories = None      # None: the profile's TrustMAE table categories

# %%
import pandas as pd

from defectbook import experiment, profiles
from defectbook.methods.trustmae import chapter_categories, chapter_config
from defectbook.report import provenance, show

P = profiles.load(profile)
T = P["trustmae"]
seeds = seeds if seeds is not None else P["seeds"]
cats = [("synthetic", c) for c in categories] if categories else chapter_categories(P, "table_categories", data_root)
configs = [chapter_config(P, "trustmae", c, 0.0, s, dataset=d, data_root=data_root, n_down=n)
           for d, c in cats for n in T["sec37_n_down"] for s in seeds]
records = experiment.run_many(configs, desc="sec3.7")
df = experiment.frame(records)
df["down-samplings"] = [c["params"]["n_down"] for c in configs]
size = T["transform"]["resize"]
df["latent grid"] = [f"{size // 2 ** n}x{size // 2 ** n}" for n in df["down-samplings"]]
table = df.pivot_table(index=["category"], columns=["down-samplings", "latent grid"],
                       values=["image_auroc", "pixel_auroc"], aggfunc="mean")
show(table)
default = {c: (T["n_down_small"] if c in T["small_detail"] else T["n_down"]) for _, c in cats}
show("Setting the profile uses per category: " + ", ".join(f"{c}: {n}" for c, n in default.items()))
show(provenance(records))
