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
import pandas as pd

from defectbook.book import paper_values, plotting
from defectbook.book.report import provenance, show
from defectbook.evaluation import metrics
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("trustmae", profile, data_root=data_root, seeds=seeds)
T, seeds = S.grids, S.seeds
cats = S.categories(categories or None)
levels = noise if noise is not None else T["ablation_noise"]
trained = {"full": {}, "w/o TR": {"trust_region": False}, "w/o SP": {"sparse": False}}
runs = []
for name, sw in trained.items():
    for d, c in cats:
        for n in levels:
            for s in seeds:
                runs.append((name, S.config("trustmae", d, c, seed=s, split=S.noisy(n), **sw)))
records = experiment.run_many([c for _, c in runs], desc="fig5 ablation")

rows = []
for (name, cfg), r in zip(runs, records):
    noise_level = cfg["split"].get("ratio", 0.0)
    pd_auc = r.metrics["image_auroc"]
    mse_auc = metrics.image_auroc(r.labels, r.extras["mse_scores_by_pooling"]["max"])
    rows.append({"variant": {"full": "ours", "w/o TR": "ours w/o TR", "w/o SP": "ours w/o SP"}[name],
                 "noise": noise_level, "category": cfg["category"], "image_auroc": pd_auc})
    if name in ("full", "w/o TR"):
        rows.append({"variant": "ours w/o PD" if name == "full" else "ours w/o PD w/o TR",
                     "noise": noise_level, "category": cfg["category"], "image_auroc": mse_auc})
df = pd.DataFrame(rows)

# %% [markdown]
# ## Mean image AUROC per variant and noise level (max-pooled score)

# %%
order = ["ours w/o PD w/o TR", "ours w/o SP", "ours w/o PD", "ours w/o TR", "ours"]
ours = df.pivot_table(index="variant", columns="noise", values="image_auroc", aggfunc="mean").reindex(order)
show(ours)
paper = paper_values.load("trustmae_supp_table3")
ref = paper.pivot_table(index="method", columns="noise", values="mean").reindex(order)
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
from defectbook.book.report import claim_verdict, page_summary

page_summary(globals(), extra=claim_verdict(
    df, "variant", "ours", "ours w/o PD w/o TR", "image_auroc",
    "the full TrustMAE above the model without perceptual distance and trust region, at every training noise "
    "(supp. Table 3; paper: mean over its noise levels)", pair_on=("category", "noise"),
    paper_effect=float(ref.loc["ours"].mean() - ref.loc["ours w/o PD w/o TR"].mean())));
