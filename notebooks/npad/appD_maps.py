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
# # N-pad Appendix D: anomaly maps of PaDiM, PatchCore and N-pad
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Reproduces Figs. 4-6 of N-pad: pixel-wise anomaly maps of the three methods on defective test
# images. As in the paper the maps are shown normalised between two quantiles (`lo=0.2`, `hi=0.8`), which hides
# the mostly nominal pixels. Here the quantiles are taken over all the shown maps of a method together, not
# image by image: scaled alone, a defect-free image's map would be stretched over the whole colour range and
# look as alarming as a defect. The records are those of `table1_auroc` (reused).

# %% tags=["parameters"]
profile = "cpu"
data_root = None
seeds = None
lo, hi = 0.2, 0.8      # quantile window of the paper's visualisation

# %%
import matplotlib.pyplot as plt

from defectbook.book import plotting
from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("npad", profile, data_root=data_root, seeds=seeds)
methods = ["padim", "patchcore", "npad"]
by_method = {m: experiment.run_many(chapter.configs(m), desc=m) for m in methods}
records = [r for recs in by_method.values() for r in recs]

# %%
shown = []
for i in range(len(by_method["npad"])):
    recs = [by_method[m][i] for m in methods]
    ex = [r.maps() for r in recs]
    if not ex[0]:
        continue
    ex = [{**e, "maps": plotting.normalize_map(e["maps"].astype("float32"), lo, hi)} for e in ex]
    c = recs[0].config
    plotting.anomaly_grid(ex, [spec.LABELS[m] for m in methods], n=6, vmin=0.0, vmax=1.0,
                          label="scaled score",
                          suptitle=f"{c['dataset']}:{c.get('category') or ''} (each method's maps scaled together "
                                   f"to their {lo:.0%}-{hi:.0%} quantiles)")
    plt.show()
    shown += recs
show(provenance(shown))

# %% tags=["remove-cell"]
# Page summary and verdict: the paper's maps show N-pad localising defects better than PaDiM.
from defectbook.book.report import claim_verdict, page_summary

page_summary(records, extra=claim_verdict("npad.appD_maps", experiment.frame(records), records));
