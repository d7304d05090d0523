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
# ```{glue:md} summary
# :format: myst
# ```
#
# The number of down-sampling layers sets the patch size each memory slot stands for. The paper
# uses 5 except on grid, screw, pill and capsule, where 3 (smaller patches) work better. The
# profile names the two settings compared: at the paper's 256 px they are 3 and 5; the cpu
# profile's 64 px images use 1 and 3, which give the same latent grids (32x32 and 8x8).

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seeds = None
categories = None      # None: the profile's TrustMAE detail categories

# %%
from defectbook.analysis import trustmae
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("trustmae", profile, data_root=data_root, seeds=seeds)
pairs = chapter.categories(categories or chapter.grids["detail_categories"])
settings = chapter.grids["sec37_n_down"]
records = experiment.run_many([chapter.config("trustmae", d, c, seed=s, n_down=n) for d, c in pairs for n in settings
                               for s in chapter.seeds], desc="sec3.7")
df = trustmae.downsampling_frame(records, chapter.section["transform"]["resize"])
show(trustmae.downsampling_table(df))
default = {c: chapter.params("trustmae", c)["n_down"] for _, c in pairs}
show("Setting the profile uses per category: " + ", ".join(f"{c}: {n}" for c, n in default.items()))
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary and verdict: fewer down-samplings (smaller patches) work better on grid, screw, pill and capsule.
rows, claim = trustmae.downsampling_claim(df, settings)
page_summary(records, extra=claim_verdict("trustmae.sec37_downsampling", rows, records));
