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
# # PaDiM end to end: synthetic categories and Magnetic Tile Defects
#
# ```{glue:md} summary
# :format: myst
# ```
#
# PaDiM (Defard et al., 2020) is the baseline N-pad builds on: one Gaussian per feature-map position
# over pretrained features, Mahalanobis distance as the anomaly map, its maximum as the image score.
# This notebook runs it on every synthetic category of the profile and, where the data root holds
# it, on Magnetic Tile Defects with DifferNet's split (the protocol of N-pad's Appendix A, whose
# PaDiM row we show beside ours). Every number below is computed by `defectbook.pipeline.run.run`.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None       # folder with mtd/ (and mvtec/, dagm/); None: DEFECTBOOK_DATA
seeds = None           # None: the profile's seeds
categories = None      # synthetic categories; None: the profile's
d = None               # random channels kept; None: the profile's
backbone = None        # None: the profile's (cpu: efficientnet_lite0, paper: wide_resnet50_2)

# %%
import matplotlib.pyplot as plt

from defectbook.analysis.npad import beside_paper, per_category_table
from defectbook.book import paper_values, plotting
from defectbook.book.report import provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("padim", profile, data_root=data_root, seeds=seeds, d=d, backbone=backbone)
records = experiment.run_many(chapter.configs("padim", categories=categories), desc="padim")
df = experiment.frame(records)

# %% [markdown]
# ## Results per category
# Image AUROC, pixel AUROC and AUPRO (integrated up to `fpr_limit=0.3`, normalised), mean over seeds.

# %%
show(per_category_table(df), index=False)
show(provenance(records))

# %% [markdown]
# ## Magnetic Tile Defects beside the paper
# N-pad's Appendix A reports PaDiM on MTD with a WRN-50 backbone at 224 px; ours uses the profile's
# backbone and size (see the provenance line), so differences in backbone and resolution apply.

# %%
comparison = beside_paper(df, paper_values.load("npad_appA_mtd"))
if len(comparison):
    show(comparison)
    show(provenance([r for r in records if r.config["dataset"] == "mtd"]))
else:
    show(f"No MTD result in this run (profile `{profile}` lists real data {chapter.P['real'] or 'none'}; MTD is used "
         "when found under the data root: set `DEFECTBOOK_DATA` or the `data_root` parameter).")

# %% [markdown]
# ## Anomaly maps beside the ground truth
# One defective image per defect type (and one defect-free image) of each dataset; colour scale per row.

# %%
with_maps = [r for r in records if r.maps()]
for r in with_maps[: min(4, len(with_maps))]:
    plotting.anomaly_grid([r.maps()], ["PaDiM"], n=6,
                          suptitle=f"{r.config['dataset']}:{r.config.get('category') or ''}  "
                                   f"(image AUROC {r.metrics['image_auroc']:.3f})")
    plt.show()
show(provenance(with_maps[:4]))

# %% [markdown]
# ## Explore (live in Jupyter; a static figure in the book)
# In a running notebook a drop-down picks the dataset and a slider the example image.

# %%
names = [f"{r.config['dataset']}:{r.config.get('category') or ''}" for r in with_maps]
by_name = dict(zip(names, with_maps))


def show_example(data=names[0] if names else "", example=0):
    m = by_name[data].maps()
    i = min(example, len(m["images"]) - 1)
    fig, ax = plt.subplots(1, 3, figsize=(7, 2.5))
    ax[0].imshow(m["images"][i]); ax[0].set_title("image")
    ax[1].imshow(m["masks"][i] if "masks" in m else m["images"][i] * 0, cmap="gray"); ax[1].set_title("ground truth")
    ax[2].imshow(m["maps"][i].astype("float32"), cmap="jet"); ax[2].set_title("PaDiM map")
    for a in ax:
        a.axis("off")
    fig.suptitle(data)
    plt.show()


if names:
    plotting.live_or_static(show_example, data=names, example=(0, 7, 1))

# %% tags=["remove-cell"]
# Page summary and verdict: PaDiM detects defects (image AUROC above chance on every data set).
from defectbook.book.report import claim_verdict, page_summary

page_summary(records, extra=claim_verdict("padim.detects", df, records));
