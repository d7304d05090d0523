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
# # Reproducibility report: every paper value the book covers, ours beside it
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Generated from the records of this build, not written: for every cell of the four papers' tables
# (and the figure points with printed numbers) that a page of the book recomputes, the paper's value,
# ours (mean over seeds), the difference, the seeds and a word from the {doc}`glossary <../../glossary>`.
# Each cell quotes the records that **its page** shows in this build (the page is named and linked
# beside the cell, with the keys of the records), so a cell's value is the one on that page, never
# another page's split or another chapter's runs. Which cells are reproduced, on which page, is declared
# beside the paper values (`reproductions.yaml`); the tolerances (`tolerances.csv`) were declared before
# any result was looked at, as ReScience replications do. The words:
#
# - **value matches**: our setting is the paper's, and |ours − paper| ≤ the table's tolerance (or ≤ the
#   tolerance + `noise_k` × our standard deviation over seeds, with two seeds or more);
# - **value differs**: our setting is the paper's, and the difference is larger;
# - **comparable but for the backbone or scale**: the paper's own real data (e.g. Magnetic Tile Defects),
#   but another backbone (EfficientNet-Lite0 instead of WRN-50 or AlexNet) or a reduced profile (smaller
#   images, fewer epochs); the difference is shown, and *why* says whether it is within the tolerance;
# - **not comparable**: other data than the paper's (synthetic stand-ins, a mean over fewer categories),
#   the smoke profile or the dry run, or a column that never compares (times on other hardware);
# - **not computed**: the page did not run in this build, or ran no record for the cell.
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
# Page summary, and one glued count per paper and word (``<paper>_<word>``, e.g. ``npad_value_matches``)
# and the counts table (``cell_counts``) for the chapters' notes and the closing note.
for name, n in benchmark.verdict_glue(counts, reproducibility.PAPERS, reproducibility.VERDICTS).items():
    glue_value(name, n)
glue_text("cell_counts", table(counts))    # the counts table, for {glue:md} in the closing note
page_summary(used, extra=benchmark.report_summary(report, counts, len(used), profile, reproducibility.VERDICTS));

# %% [markdown]
# ## The cells per paper

# %%
show(counts)
show(reproducibility.spread(report), digits=4, index=False)
show("Spread: the standard deviation of our value over seeds, per cell, among the cells run with two seeds or "
     "more (a mean cell: the standard deviation of the per-seed means over categories).")
show(provenance(used))

# %%
# Left: every cell the pages cover; right: the cells computed in this build, as shares.
plotting.verdict_bars(counts, reproducibility.VERDICTS, profile)
plt.show()
show(provenance(used))

# %% [markdown]
# ## Not computed in this build
# Cells with no record of their page (grouped by paper row; `columns`: the categories or metrics missing).

# %%
miss = reproducibility.missing(report)
if len(miss):
    show(miss, index=False)
else:
    show("Every reproduced cell has a record of its page in this build.")

# %% [markdown]
# ## The full report, per paper
# Only cells computed in this build (the others are listed above). `cell`: table · row · column ·
# category; `ours`: mean over seeds; `Δ` = ours − paper; `page`: the page whose records the cell quotes;
# `records`: their keys in the record store.

# %%
for paper in reproducibility.PAPERS.values():
    part = reproducibility.view(report[report["paper"] == paper])
    show(f"### {paper}")
    show(part, index=False) if len(part) else show(f"No cell of {paper} was computed in this build.")

# %% [markdown]
# ## Paper rows shown but not rerun
# Rows of the paper tables that the book quotes beside ours without running them (declared in
# `reproductions.yaml` with the reason).

# %%
show(quoted, index=False)
