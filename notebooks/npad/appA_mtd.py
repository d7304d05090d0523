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
# Table 3 switch sets also run on MTD, e.g. ["Exper1", "Exper4"]; None: the profile's `mtd_ablation`, [] skips
ablation = None
n_boot = 2000     # bootstrap resamples of the paired differences

# %%
import matplotlib.pyplot as plt

from defectbook.analysis import npad as analysis
from defectbook.book import paper_values, plotting
from defectbook.book.report import claim_verdict, differences_view, page_summary, provenance, show
from defectbook.evaluation.stats import method_differences
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("npad", profile, data_root=data_root, seeds=seeds)
ablation = chapter.grids["mtd_ablation"] if ablation is None else ablation
records = experiment.run_many([c for m in methods for c in chapter.configs(m, categories=[], real=["mtd"])], desc="MTD")

# %%
paper = paper_values.load("npad_appA_mtd").set_index("method")
if records:
    show(analysis.mtd_table(records, paper))
    show(analysis.split_sentence(records))
else:
    show(paper)
    show("MTD was not found under the data root, so only the paper's row is shown "
         "(set `DEFECTBOOK_DATA` or the `data_root` parameter).")
show(provenance(records))  # without MTD it says that nothing was computed

# %% [markdown]
# ## The differences, with their intervals
# Each row is one method minus another on the same test images: the difference of image AUROC with a (`level=0.95`)
# paired bootstrap interval (test images resampled within each class, both AUROCs recomputed on every
# resample), the verdict the interval gives (*agrees*: the whole interval above zero, as the paper's
# ordering N-pad > PatchCore > PaDiM has it; *disagrees*: below; *undecided*: it holds zero), the paper's
# difference, and the difference of pixel AUROC (pooled pixels, no interval).

# %%
diffs = method_differences(records, analysis.ORDER_PAIRS, n_boot=n_boot)
if len(diffs):
    show(differences_view(diffs, spec.LABELS, ("difference", "low", "high", "word", "paper", "pixel difference",
                                               "pixel, paper"), **analysis.paper_pair_differences(diffs, paper)),
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
variants = analysis.score_variant_table(records, n_boot=n_boot)
if len(variants):
    show(variants, index=False)
    show(provenance([r for r in records if r.config["method"] in ("npad", "padim")]))
else:
    show("No N-pad record with score variants (MTD absent, or N-pad not among `methods`).")

# %% [markdown]
# ## Which module carries the image-level AUROC?
# The Table 3 switch sets of `ablation` (A: weighted Gaussians, B: aggregated features, C: neighbour-min,
# D: shifting; the profile's `mtd_ablation` grid: each set is one more N-pad run on the whole split, so the
# `cpu` profile runs none and the `paper` profile three) on the same MTD split, plus Exper1 with training radius 0 (A
# alone without neighbours: PaDiM's per-position Gaussian with N-pad's channel rule). Each row gives the configured
# image score, PaDiM's rule (maximum of the map) applied to the same run, and the pixel AUROC.

# %%
ablation_records = []
if ablation and len(variants):
    runs = {name: experiment.run_many(chapter.configs("npad", categories=[], real=["mtd"], **switches), desc=name)
            for name, switches in analysis.mtd_ablation_sets(ablation).items()}
    ablation_records = analysis.records_of(runs)
    show(analysis.mtd_ablation_table(runs, records), index=False)
    show(provenance(ablation_records + [r for r in records if r.config["method"] == "padim"]))
else:
    show(f"No MTD ablation in this run: the `{profile}` profile's `mtd_ablation` grid is empty "
         "(or no N-pad record on MTD). "
         "Rerun the page with, e.g., `-p ablation='[Exper1, Exper4, Exper5]'` to add it.")

# %% [markdown]
# ## Anomaly maps on MTD
# One defective tile per defect type and one defect-free tile; one colour scale per method.

# %%
with_maps = [r for r in records if r.maps()]
if with_maps:
    plotting.anomaly_grid([r.maps() for r in with_maps], [spec.LABELS.get(r.config["method"]) for r in with_maps], n=6,
                          suptitle="Magnetic Tile Defects")
    plt.show()
    show(provenance(with_maps))

# %% tags=["remove-cell"]
# Page summary and verdict: the paper finds N-pad above PaDiM and PatchCore on MTD (image AUROC).
page_summary(records + ablation_records, extra=claim_verdict(
    "npad.vs_padim_patchcore_real", experiment.frame(records), records, n_boot=n_boot,
    paper_effect=analysis.paper_difference(paper, "npad", "padim")));
