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
# # NDP-Net Figs. 9, 10 and 12: reconstructions and segmentations
#
# ```{glue:md} summary
# :format: myst
# ```
#
# For each dataset of the chapter: defective test images, NDP-Net's reconstruction (it should
# follow the input and drop the defect), the final anomaly map and the ground truth; one
# defect-free image per dataset as a check that the reconstruction follows its input.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper
data_root = None
only = None            # None: every dataset of the chapter; else names like ["mtd", "synthetic:wood"]
seed = 0
n_examples = 4

# %%
from defectbook.analysis import ndpnet
from defectbook.book import plotting
from defectbook.book.report import claim_verdict, page_summary, provenance, show
from defectbook.pipeline import run as experiment
from defectbook.pipeline import spec

chapter = spec.chapter("ndpnet", profile, data_root=data_root)
records = []
for dataset, category in ndpnet.chosen(chapter.pairs(), only):
    config = chapter.config("ndpnet", dataset, category, seed=seed)
    record = experiment.run(config)
    records.append(record)
    det, prep = experiment.fitted(config)
    idx = ndpnet.example_indices(prep.labels, n_examples)
    plotting.reconstructions(prep.test, det.analyse(prep.test[idx]), prep.masks, prep.defects, idx,
                             f"{dataset}:{category or ''} (image AUROC {record.metrics['image_auroc']:.3f}, "
                             f"pixel AUROC {record.metrics.get('pixel_auroc', float('nan')):.3f})")
    show(provenance([record]))

# %% tags=["remove-cell"]
# Page summary and verdict: NDP-Net's maps mark the defects (pictures; pixel AUROC against chance).
page_summary(records, extra=claim_verdict(
    "ndpnet.qualitative_maps", records=records, **ndpnet.segmentation_claim(experiment.frame(records))));
