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
# # Reproducibility report: every paper value the book reproduces, ours beside it
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Generated from the records of this build, not written: for every cell of the four papers' tables
# (and the figure points with printed numbers) that a notebook of the book reproduces, the paper's
# value, ours (mean over seeds), the difference, the seeds, a Student-t interval over them
# (`level=0.95`), the seed-to-seed standard deviation and a verdict. Which cells are reproduced and from which records
# is declared in `src/defectbook/paper_values/reproductions.yaml`; the tolerances, in `paper_values/tolerances.csv`,
# were declared before any result was looked at, as ReScience replications do. The rules
# (`defectbook.book.reproducibility`):
#
# - **not computed**: no record of this build (profile, dry run) matches the cell; the notebook that
#   computes it did not run, or the profile does not run that category, variant or noise level;
# - **not comparable**: our records ran on other data than the paper's (synthetic stand-ins, a mean
#   over fewer categories), with another backbone (EfficientNet-Lite0 instead of WRN-50 or AlexNet),
#   in the smoke profile or the dry run, or the column is never comparable (times on other hardware);
# - **reproduced**: |ours − paper| ≤ the table's tolerance;
# - **within noise**: |ours − paper| ≤ tolerance + `noise_k` × our standard deviation over seeds
#   (two seeds or more);
# - **not reproduced**: otherwise.
#
# This page runs after every other notebook of the build (`defectbook reproduce` orders it last).
#
# These verdicts hold at the profile's scale. Whether each paper's central effect moves toward the
# paper as the setting grows (image size, training length, width, the switched-off terms) is shown,
# from a committed results bundle, on each chapter's "At larger scale" page:
# {doc}`N-pad <../npad/at_scale>`, {doc}`DifferNet <../differnet/at_scale>`,
# {doc}`TrustMAE <../trustmae/at_scale>` and {doc}`NDP-Net <../ndpnet/at_scale>`.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper

# %%
import matplotlib.pyplot as plt

from defectbook.analysis import benchmark
from defectbook.book import plotting, reproducibility
from defectbook.book.report import glue_text, glue_value, page_summary, provenance, show, table

records = reproducibility.load_records(profile=profile)
report, quoted = reproducibility.judge(profile, records=records)
counts = reproducibility.counts(report)
keys = {k for ks in report["records"] for k in ks}
used = [r for r in records if r.key in keys]     # the records the report's cells come from (provenance)

# %% tags=["remove-cell"]
# Page summary, and one glued count per paper and verdict (``<paper>_<verdict>``, e.g. ``npad_reproduced``)
# and the counts table (``verdict_counts``) for the chapters' notes and the closing note.
for name, n in benchmark.verdict_glue(counts, reproducibility.PAPERS, reproducibility.VERDICTS).items():
    glue_value(name, n)
glue_text("verdict_counts", table(counts))    # the counts table, for {glue:md} in the closing note
page_summary(used, extra=benchmark.report_summary(report, counts, len(used), profile, reproducibility.VERDICTS));

# %% [markdown]
# ## Verdicts per paper

# %%
show(counts)
show(reproducibility.spread(report), digits=4, index=False)
show("Spread: the standard deviation of our value over seeds, per cell, among the cells run with two seeds or "
     "more (a mean cell: the standard deviation of the per-seed means over categories).")
show(provenance(used))

# %%
# Left: every reproduced cell; right: the cells computed in this build, as shares (the verdicts proper).
plotting.verdict_bars(counts, reproducibility.VERDICTS, profile)
plt.show()
show(provenance(used))

# %% [markdown]
# ## Not computed in this build
# Cells with no matching record (grouped by paper row; `columns`: the categories or metrics missing).

# %%
miss = reproducibility.missing(report)
if len(miss):
    show(miss, index=False)
else:
    show("Every reproduced cell has a record in this build.")

# %% [markdown]
# ## The full report, per paper
# Only cells computed in this build (the others are listed above). `ours`: mean over seeds;
# `Δ` = ours − paper; `sd (seeds)`: standard deviation over seeds; `interval`: Student-t (`level=0.95`)
# interval of the mean over seeds (— for one seed); `data`: the data our value comes from (the number
# of categories averaged for a mean or a row without category).

# %%
cols = ["table", "row", "column", "category", "paper value", "ours", "Δ", "sd (seeds)", "seeds", "interval",
        "data", "tolerance", "verdict", "why"]
for paper in reproducibility.PAPERS.values():
    part = report[(report["paper"] == paper) & (report["verdict"] != "not computed")]
    show(f"### {paper}")
    if len(part):
        show(part[cols], index=False)
    else:
        show(f"No cell of {paper} was computed in this build.")

# %% [markdown]
# ## Paper rows shown but not rerun
# Rows of the paper tables that the book quotes beside ours without running them (declared in
# `reproductions.yaml` with the reason).

# %%
show(quoted, index=False)
