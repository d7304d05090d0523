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
# # TrustMAE Fig. 5 and supplementary Table 3: ablation against training noise
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Five variants at each noise level: without perceptual distance and without trust region
# (w/o PD w/o TR), without sparse addressing (w/o SP), without perceptual distance (w/o PD),
# without trust region (w/o TR), and the full model. "w/o PD" changes only the score (the
# squared error instead of squared error x perceptual distance), so it is read from the same
# trained model as the full one (and "w/o PD w/o TR" from the "w/o TR" model): the runner keeps
# both scores of every prediction. Every number is computed by `defectbook.pipeline.run.run`.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
seeds = None
categories = None      # None: the profile's TrustMAE categories
noise = None           # None: the profile's ablation noise levels

# %%
import matplotlib.pyplot as plt

from defectbook.analysis import trustmae
from defectbook.book import paper_values, plotting
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("trustmae", profile, data_root=data_root, seeds=seeds)
levels = noise if noise is not None else chapter.grids["ablation_noise"]
runs = trustmae.ablation_configs(chapter, chapter.categories(categories or None), levels)
records = experiment.run_many([c for _, c in runs], desc="fig5 ablation")
df = trustmae.ablation_frame(runs, records)

# %% [markdown]
# ## Mean image AUROC per variant and noise level (max-pooled score)

# %%
ours = trustmae.ablation_table(df)
show(ours)
ref = trustmae.paper_ablation(paper_values.load("trustmae_supp_table3"))
show("**Paper (supp. Table 3, mean over MVTec AD):**")
show(ref)
show(provenance(records))

# %%
plotting.ours_and_paper(ours.T, ref.T, (f"ours ({profile} profile)", "paper (supp. Table 3)"),
                        "training noise (%)", "image AUROC", x_scale=100)
plt.show()
show(provenance(records))

# %% tags=["remove-cell"]
# Page summary and verdict: the full model above the one with neither perceptual distance nor trust region.
page_summary(records, extra=claim_verdict("trustmae.fig5_ablation", df, records,
    paper_effect=float(ref.loc["ours"].mean() - ref.loc["ours w/o PD w/o TR"].mean())));
