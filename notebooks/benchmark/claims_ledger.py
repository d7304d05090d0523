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
# (claims-ledger)=
# # The claims ledger: every claim the book tests, and what its pages found
#
# ```{glue:md} summary
# :format: myst
# ```
#
# Every claim of the four papers (and of PaDiM, their foundation) that a page of this book tests is declared
# once, in `defectbook/analysis/claims.yaml`, before any result: the paper, the claim in one sentence, the
# paper's headline metric for it, every competitor the paper names, the direction the paper reports and the
# page. Each page judges its claim by one rule (the {doc}`glossary </book/glossary>` defines the words):
#
# - **the effect**: the claim's metric, the paper's method minus each competitor, per unit (one data set and
#   seed, or the page's own pairing), averaged over the units;
# - **with per-image scores** (image AUROC): a paired percentile bootstrap over the same test images. Each
#   resample draws the test images of a data set again, within each class; the units that share a test set
#   (the seeds of one data set) share the draw, and every AUROC of every unit is recomputed on it, so the
#   interval holds the spread over data sets and seeds that the images give;
# - **without them** (pixel AUROC, PRO, quantities read from maps): a bootstrap over the units, which needs
#   at least the number of units glued below (all of them on one side: one-sided sign test p = 1/32);
# - **the band**: a unit whose compared values all sit at the ceiling or in the floor band is set aside; a
#   comparison with no unit left is *not testable here*;
# - **the verdict**: *agrees* when the interval lies on the paper's side of zero against every competitor
#   the claim names, *disagrees* when it lies on the other side against any, *undecided* otherwise.
#
# Ceiling: {glue:text}`ceiling:.2f`; floor band: {glue:text}`floor`; fewest units for a bootstrap over units:
# {glue:text}`min_units`.

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper: the profile whose pages' judgements are read

# %%
from defectbook import settings
from defectbook.analysis import claims, scale
from defectbook.book import report
from defectbook.book.report import declared_table, glue_text, glue_value, page_summary, provenance, show, table
from defectbook.evaluation import stats
from defectbook.pipeline.store import Store

judgements = report.load_judgements(profile, dry_run=settings.dry_run())
store = Store()
found = {k: store.get(k) for j in judgements for k in j.get("records", [])}
records = [r for r in found.values() if r is not None]
stale = [j["id"] for j in judgements if any(found[k] is None for k in j.get("records", []))]
card = claims.scorecard(judgements, scale.trends(report.bundle_rungs()))   # trends: the committed scale bundles
counts = claims.counts(card)

# %% [markdown]
# ## Verdicts per paper

# %%
show(counts)
glue_text("counts", table(counts))
if stale:
    show(f"Judgements whose records are no longer in the store (rerun their pages): {', '.join(stale)}.")

# %% [markdown]
# ## Every claim
# `effect`: the paper's method minus the competitor named under `against` (for a claim with several
# competitors, the one whose interval comes closest to contradicting the paper), with its `0.95` interval.
# `trend over scale`: for a claim with a scale ladder, how its effect moves as the model grows from the `cpu`
# setting towards the paper's (the reading rule of the "At larger scale" pages, over the rungs run so far and
# committed to the results bundle; under three rungs it is undecided); empty for a claim without a ladder.

# %%
show(report.scorecard_table(card), index=False)
show(provenance(records))
central = {link: report.scorecard_table(card, True, link).drop(columns="trend over scale")
           for link in (report.page_link, report.intro_link)}   # Markdown here, HTML for the introduction
glue_text("scorecard", table(counts) + "\n\n" + table(central[report.page_link], index=False),
          report.html_table(counts.rename_axis(columns=None).reset_index(), index=False)
          + report.html_table(central[report.intro_link], index=False))

# %% [markdown]
# ## The ledger as declared

# %%
show(declared_table(claims.ledger_frame()), index=False)

# %% [markdown]
# ## What more seeds would cost
# The compute of the records behind the judgements (fit and predict time each record measured), per paper,
# and what one more seed of every claim would add at this profile on the machine that ran it.

# %%
show(claims.seed_cost(judgements, records), index=False)
show(provenance(records))

# %% tags=["remove-cell"]
glue_value("ceiling", stats.CEILING)
glue_value("floor", f"{stats.FLOOR[0]:.2f} to {stats.FLOOR[1]:.2f}")
glue_value("min_units", stats.MIN_UNITS)
page_summary(records, extra=f"{len(judgements)} of {len(claims.ledger())} claims judged at the `{profile}` profile: "
             + ", ".join(f"{int(counts[w].sum())} {w}" for w in stats.VERDICTS) + ".");
