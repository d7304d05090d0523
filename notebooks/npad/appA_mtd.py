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
# # N-pad Appendix A: Magnetic Tile Defects (real data)
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Reproduces Appendix A of N-pad: N-pad, PaDiM and PatchCore on Magnetic Tile Defects (MTD), image and
# pixel AUROC (and PRO, which the paper does not report), beside the paper's MTD row, and the paired
# differences between the methods on the same test images with bootstrap intervals. Split: DifferNet's
# published list of training images (761, four fifths of the defect-free images); the other 191 defect-free
# images and all 392 defective ones are the test set, in every profile. The `cpu` profile uses the offline
# EfficientNet-Lite0 at 112 px; the `paper` profile uses WRN-50 at 224 px. The same comparison on ELPV solar
# cells is on {doc}`the ELPV page <appA_solar_elpv>`; why PatchCore trails PaDiM on a subsample of MTD is on
# {doc}`the PatchCore page <appA_mtd_patchcore>`.

# %% tags=["parameters"]
profile = "cpu"
data_root = None
seeds = None
methods = ["padim", "patchcore", "npad"]
ablation = None   # Table 3 switch sets also run on MTD, e.g. ["Exper1", "Exper4"]; None: the profile's `mtd_ablation`, [] skips
n_boot = 2000     # bootstrap resamples of the paired differences

# %%
import matplotlib.pyplot as plt
import pandas as pd

from defectbook.book import paper_values, plotting
from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

S = spec.chapter("npad", profile, data_root=data_root, seeds=seeds)
N, SYNTH, grid = S.grids, S.synthetic, S.configs   # grid(method, categories=..., real=..., **params): configs
ablation = N["mtd_ablation"] if ablation is None else ablation

configs = [c for m in methods for c in grid(m, categories=[], real=["mtd"])]
records = experiment.run_many(configs, desc="MTD")
df = experiment.frame(records)

# %%
names = {"padim": "PaDiM", "patchcore": "PatchCore", "npad": "N-pad", "differnet": "DifferNet"}
paper = paper_values.load("npad_appA_mtd").set_index("method")
if len(df):
    ours = df.groupby("method")[["image_auroc", "pixel_auroc", "aupro"]].mean().rename(index=names)
    table = ours.join(paper.add_suffix(" (paper)"), how="outer")
    show(table)
    split = records[0].extras.get("split", {})
    show(f"Test images: {split.get('n_test')} ({split.get('n_test_defective')} defective), training images: "
         f"{split.get('n_train')}. Paper: WRN-50, 224 px, 80 % of the defect-free images for training.")
    show(provenance(records))
else:
    show(paper)
    show("MTD was not found under the data root, so only the paper's row is shown "
         "(set `DEFECTBOOK_DATA` or the `data_root` parameter).")
    show(provenance(records))  # says that nothing was computed

# %% [markdown]
# ## The differences, with their intervals
# Each row is one method minus another on the same test images: the difference of image AUROC with a (`level=0.95`)
# paired bootstrap interval (test images resampled within each class, both AUROCs recomputed on every
# resample), the verdict the interval gives (*reproduced*: the whole interval above zero, as the paper's
# ordering N-pad > PatchCore > PaDiM has it; *reversed*: below; *undecided*: it holds zero), the paper's
# difference, and the difference of pixel AUROC (pooled pixels, no interval).

# %%
from defectbook.book.report import differences_view, verdict
from defectbook.evaluation.stats import method_differences, pair_effect

pairs = [("npad", "padim"), ("npad", "patchcore"), ("patchcore", "padim")]
diffs = method_differences(records, pairs, n_boot=n_boot)
if len(diffs):
    p = lambda m, col: paper.loc[names[m], col] if names[m] in paper.index else float("nan")  # noqa: E731
    pairs_ = list(zip(diffs.a, diffs.b))
    show(differences_view(diffs, names, ("difference", "low", "high", "word", "paper", "pixel difference",
                                         "pixel, paper"),
                          paper=[p(a, "image_auroc") - p(b, "image_auroc") for a, b in pairs_],
                          **{"pixel, paper": [p(a, "pixel_auroc") - p(b, "pixel_auroc") for a, b in pairs_]}),
         index=False)
    show(provenance(records))
else:
    show("No pair of methods on MTD to compare (MTD absent, or fewer than two of `methods`).")

# %% [markdown]
# ## Which image score?
# N-pad's image score (Eq. 12-14) is lost from the paper's text; the detector uses our reading (the top-k
# map values paired with nearest-centroid distances) and records four other readings of the same run
# beside it. PaDiM's score is the maximum of its map. The table gives the image AUROC of each reading
# on the same test images and its paired difference from PaDiM, so the gap between N-pad and PaDiM can be
# traced to the score or to the map.

# %%
from defectbook.evaluation.metrics import auroc_difference, image_auroc
from defectbook.methods.npad import SCORE_VARIANTS

variant_recs = [r for r in records if r.config["method"] == "npad" and "score_variants" in r.extras]
padim_recs = [r for r in records if r.config["method"] == "padim"]
rows = []
for r in variant_recs:
    readings = {"configured: mean of sqrt(top-k M x centroid distance)": r.scores,
                **{text: r.extras["score_variants"][name] for name, text in SCORE_VARIANTS.items()}}
    for text, scores in readings.items():
        row = {"method": "N-pad", "image score": text, "image AUROC": image_auroc(r.labels, scores)}
        if padim_recs and padim_recs[0].labels == r.labels:   # the same test images: a paired difference
            d = auroc_difference(r.labels, scores, padim_recs[0].scores, n_boot=n_boot)
            row.update({"minus PaDiM": d["difference"], "95 % low": d["low"], "95 % high": d["high"]})
        rows.append(row)
rows += [{"method": "PaDiM", "image score": "maximum of the final anomaly map", "image AUROC": r.metrics["image_auroc"]}
         for r in padim_recs]
if variant_recs:
    show(pd.DataFrame(rows), index=False)
    show(provenance([r for r in records if r.config["method"] in ("npad", "padim")]))
else:
    show("No N-pad record with score variants (MTD absent, or N-pad not among `methods`).")

# %% [markdown]
# ## Which module carries the image-level AUROC?
# The Table 3 switch sets of `ablation` (A: weighted Gaussians, B: aggregated features, C: neighbour-min,
# D: shifting; the profile's `mtd_ablation` grid: each set is one more N-pad run on the whole split, so the
# `cpu` profile runs none and the `paper` profile three) on the same MTD split, plus Exper1 with training radius 0 (A alone without neighbours:
# PaDiM's per-position Gaussian with N-pad's channel rule). Each row gives the configured image score,
# PaDiM's rule (maximum of the map) applied to the same run, and the pixel AUROC.

# %%
from defectbook.methods.npad import ABLATIONS

abl_rows, abl_records = [], []
if ablation and variant_recs:
    sets = {name: ABLATIONS[name] for name in ablation}
    sets["Exper1, train radius 0"] = {**ABLATIONS["Exper1"], "train_radius": 0}
    sets["N-pad"] = {}
    for name, switches in sets.items():
        recs = experiment.run_many(grid("npad", categories=[], real=["mtd"], **switches), desc=name)
        abl_records += recs
        for r in recs:
            abl_rows.append({"experiment": name, "image AUROC": r.metrics["image_auroc"],
                             "image AUROC, map maximum": image_auroc(r.labels, r.extras["score_variants"]["map_max"]),
                             "pixel AUROC": r.metrics.get("pixel_auroc")})
    abl_rows += [{"experiment": "PaDiM", "image AUROC": r.metrics["image_auroc"], "image AUROC, map maximum": r.metrics["image_auroc"],
                  "pixel AUROC": r.metrics.get("pixel_auroc")} for r in records if r.config["method"] == "padim"]
    show(pd.DataFrame(abl_rows), index=False)
    show(provenance(abl_records + [r for r in records if r.config["method"] == "padim"]))
else:
    show(f"No MTD ablation in this run: the `{profile}` profile's `mtd_ablation` grid is empty (or no N-pad record on MTD). "
         "Rerun the page with, e.g., `-p ablation='[Exper1, Exper4, Exper5]'` to add it.")

# %% [markdown]
# ## Anomaly maps on MTD
# One defective tile per defect type and one defect-free tile; one colour scale per method.

# %%
with_maps = [r for r in records if r.maps()]
if with_maps:
    plotting.anomaly_grid([r.maps() for r in with_maps], [names.get(r.config["method"]) for r in with_maps], n=6,
                          suptitle="Magnetic Tile Defects")
    plt.show()
    show(provenance(with_maps))

# %% tags=["remove-cell"]
# Page summary and verdict: the paper finds N-pad above PaDiM on MTD (image AUROC), judged by the paired bootstrap.
from defectbook.book.report import page_summary

effect = pair_effect(diffs, "npad", "padim")
paper_d = paper.loc["N-pad", "image_auroc"] - paper.loc["PaDiM", "image_auroc"]
page_summary(globals(), extra=f"**Paper:** N-pad above PaDiM on Magnetic Tile Defects, image AUROC (Appendix A; "
             f"paper: {paper_d:+.3f}). " + verdict(effect, "N-pad minus PaDiM, image AUROC, paired bootstrap over the test images"));
