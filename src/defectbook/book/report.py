"""What a book page shows: provenance lines, tables, the summary and verdict at the top of a page.

One table style for the whole book (:func:`table`): floats with a fixed number of decimals, ``—``
for a missing value (never ``nan``), flat column and row labels (never a tuple such as ``('d', 16)``).
Pages open with a summary glued from their records (:func:`glue_text`), ending with a computed
verdict on the paper's effect (:func:`verdict`).
"""
from __future__ import annotations

import math
from typing import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import DefectbookError
from ..analysis import scale
from ..config import data_label
from ..data.synthetic import CALIBRATION
from ..evaluation.stats import interval, paired_differences, verdict_word
from ..pipeline import bundle
from ..pipeline.spec import LABELS, differences
from ..pipeline.store import Record

# plotting's import also sets the book's figure style, so every page's figures share it
from . import paper_values, plotting


def provenance(records: Iterable[Record], extra: str = "") -> str:
    """One line naming what produced a table or figure: profile, data, backbone, seeds, code version.

    Every table and figure of the book is followed by this line (as Markdown). With synthetic data it
    says how the generator was calibrated (:data:`defectbook.data.synthetic.CALIBRATION`).
    """
    records = list(records)
    if not records:
        return "**Provenance:** no records (nothing was computed)."
    profiles = sorted({str(r.config.get("profile")) for r in records})
    data = sorted({f"{r.config['dataset']}" + (f":{r.config['category']}" if r.config.get("category") else "")
                   for r in records})
    if len(data) > 6:
        data = data[:6] + [f"… ({len(data)} in all)"]
    backbones = sorted({str(r.extras.get("backbone") or "none (trained from scratch)") for r in records})
    seeds = sorted({r.config.get("seed") for r in records})
    methods = sorted({r.config["method"] for r in records})
    sizes = sorted({_size(r.config) for r in records})
    devices = sorted({str(r.extras.get("device") or "unrecorded") for r in records})
    commits = sorted({f"{r.env.get('git_commit')}{'+dirty' if r.env.get('git_dirty') else ''}" for r in records})
    line = (f"**Provenance:** profile={', '.join(profiles)} · data={', '.join(data)} · image size={', '.join(sizes)} · "
            f"methods={', '.join(methods)} · backbone={'; '.join(backbones)} · device={', '.join(devices)} · "
            f"seeds={', '.join(map(str, seeds))} · "
            f"{len(records)} records · defectbook {records[0].env.get('defectbook')} @ {', '.join(commits)}")
    if any(r.config.get("profile") == "smoke" for r in records):
        line += " · **smoke profile: tiny data and models, the numbers are not meaningful**"
    line += _differences(records)
    if any(r.config.get("dataset") == "synthetic" for r in records):
        line += f" · {CALIBRATION}"
    if any(r.config.get("dry_run") for r in records):
        line += (" · **dry run: random weights, synthetic stand-ins for the real datasets, a few images and "
                 "training steps: the numbers are not results**")
    return line + (f" · {extra}" if extra else "")


def _differences(records: list[Record]) -> str:
    """`` · params differing from the profile: d=20; ...`` (every value seen), or ``""``."""
    seen: dict[str, list] = {}
    for r in records:
        for k, v in differences(r.config).items():
            if v not in seen.setdefault(k, []):
                seen[k].append(v)
    if not seen:
        return ""
    return " · params differing from the profile: " + "; ".join(
        f"{k}={'|'.join(map(str, vs))}" for k, vs in sorted(seen.items()))


def _size(c: dict) -> str:
    t = c.get("transform", {})
    return f"{t.get('resize')}" + (f"→crop {t['crop']}" if t.get("crop") else "")


def side_by_side(ours: pd.DataFrame, paper: pd.DataFrame, on: list[str], value: str,
                 ours_label: str = "ours", paper_label: str = "paper") -> pd.DataFrame:
    """Join our ``value`` column with the paper's on ``on``, adding the difference (ours - paper)."""
    a = ours[on + [value]].rename(columns={value: ours_label})
    b = paper[on + [value]].rename(columns={value: paper_label})
    out = a.merge(b, on=on, how="outer")
    out["Δ"] = out[ours_label] - out[paper_label]
    return out


def show(md, **table_options) -> None:
    """Display Markdown in a notebook (plain print elsewhere). A DataFrame or Series is shown as
    :func:`table` (``table_options``: ``digits``, ``index``, ``percent``), the book's one table style."""
    if isinstance(md, (pd.DataFrame, pd.Series)):
        md = table(md, **table_options)
    try:
        from IPython.display import Markdown, display

        display(Markdown(md))
    except ImportError:  # pragma: no cover
        print(md)


MISSING = "—"


def _cell(v, digits: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
        return MISSING
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.{digits}f}"
    if isinstance(v, tuple):
        return " · ".join(str(x) for x in v)
    return str(v)


def _label(v) -> str:
    return " · ".join(str(x) for x in v if str(x) != "") if isinstance(v, tuple) else str(v)


def table(df: pd.DataFrame | pd.Series, digits: int = 3, index: bool = True, percent: bool = False) -> str:
    """A DataFrame as a Markdown table in the book's style.

    Floats get ``digits`` decimals (``percent=True``: multiplied by 100, ``digits`` decimals, ``%``);
    a missing value prints ``—``; a MultiIndex on the rows becomes one column per level and one on the
    columns is joined with `` · ``, so no label is printed as a tuple. ``index=False`` drops a plain
    (unnamed, 0..n-1) row index.
    """
    if isinstance(df, pd.Series):
        df = df.to_frame()
    df = df.copy()
    if isinstance(df.columns, pd.MultiIndex):
        df.columns = [_label(c) for c in df.columns]
    else:
        df.columns = [_label(c) for c in df.columns]
    if index:
        if isinstance(df.index, pd.MultiIndex):
            df = df.reset_index()
        else:
            name = df.index.name or ""
            df.index = [_label(i) for i in df.index]
            df = df.reset_index(names=name or " ")
    if percent:
        df = df.apply(lambda col: col * 100 if pd.api.types.is_float_dtype(col) else col)
    body = [[_cell(v, digits) + ("%" if percent and isinstance(v, (float, np.floating)) and not math.isnan(v) else "")
             for v in row] for row in df.itertuples(index=False)]
    align = ["---:" if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) else ":---"
             for c in df.columns]
    esc = lambda t: str(t).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(esc(c) for c in df.columns) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


#: How a verdict names a metric column.
METRIC_NAMES = {"image_auroc": "image AUROC", "pixel_auroc": "pixel AUROC", "aupro": "PRO (AUPRO)"}


def verdict(effect: dict, claim: str, paper_sign: int = 1, unit: str = "", digits: int = 3) -> str:
    """One line on whether the paper's effect is seen, decided by the interval alone.

    ``effect`` has ``difference``, ``low``, ``high`` (as :func:`~defectbook.evaluation.stats.interval` or
    :func:`defectbook.evaluation.metrics.auroc_difference` return); the paper's effect is a difference of sign
    ``paper_sign``. *Reproduced* (ours agrees) when the whole interval lies on the paper's side of zero,
    *reversed* (ours disagrees) when it lies on the other side, *undecided* when it holds zero or cannot
    be computed; an undecided line says which way the mean leans. The word is also glued as ``verdict``
    (``{glue}`page.ipynb::verdict` `` in a chapter's text). :func:`claim_verdict` builds ``effect`` from a
    page's result frame.
    """
    d, lo, hi = (float(effect.get(k, float("nan"))) for k in ("difference", "low", "high"))
    word = verdict_word(effect, paper_sign)
    f = lambda v: MISSING if math.isnan(v) else f"{v:+.{digits}f}{unit}"  # noqa: E731
    n = f", n={effect['n']}" if "n" in effect else ""
    ci = f"interval {f(lo)} to {f(hi)}{n}" if not math.isnan(lo) else f"no interval{n}"
    if effect.get("n") == 0:
        ci = "no pair of runs to compare on this page"
    glue_value("verdict", word)
    head = {"reproduced": "Ours agrees with the paper (effect reproduced)",
            "reversed": "Ours disagrees with the paper (effect reversed)"}.get(word, "Paper's effect undecided")
    lean = ""
    if word == "undecided" and not math.isnan(d) and d != 0:
        why = "" if math.isnan(lo) else "the interval holds zero; "
        lean = f"; {why}the mean leans {'with' if paper_sign * d > 0 else 'against'} the paper"
    return f"**{head}**: {claim}: {f(d)} ({ci}){lean}."


def claim_verdict(df: pd.DataFrame, by: str, a, b, value: str, claim: str, paper_sign: int | None = None,
                  paper_effect: float | None = None, pair_on=("data", "seed"), digits: int = 3,
                  reference: float | None = None) -> str:
    """A page's computed verdict: what the paper claims and whether our records agree.

    ``df`` is the page's result frame (one row per run); the paper claims that the rows with
    ``df[by] == a`` score higher in ``value`` than those with ``df[by] == b`` (``paper_sign=-1``: lower;
    by default the sign of ``paper_effect``, else higher).
    The difference is paired on ``pair_on`` (same test images) and judged by its interval
    (:func:`~defectbook.evaluation.stats.paired_effect`, :func:`verdict`): *agrees*, *disagrees* or *undecided*. The
    line also counts the pairs that go the paper's way and, given ``paper_effect`` (the paper's own ``a - b``), quotes
    it. With ``reference`` (e.g. ``0.5``, chance) the rows of ``a`` are compared with that constant and ``b``
    names it (``"chance"``).
    Returns ``"**Paper:** <claim>. **Ours agrees ...**: a minus b, value: +0.020 (interval ..., n=15); ..."``.
    """
    if paper_sign is None:
        paper_sign = -1 if paper_effect is not None and paper_effect < 0 else 1
    if reference is None:
        diffs = paired_differences(df, by, a, b, value, pair_on)
    else:
        diffs = paired_differences(pd.concat([df, df.assign(**{by: b, value: reference})]), by, a, b, value, pair_on)
        b = f"{b} ({reference:.{digits}f})"
    effect = interval(diffs.values)
    paper = f" (paper: {paper_effect:+.{digits}f})" if paper_effect is not None and not math.isnan(paper_effect) else ""
    name = lambda x: LABELS.get(x, x) if isinstance(x, str) else f"{x:g}" if isinstance(x, float) else str(x)  # noqa: E731
    line = f"**Paper:** {claim}{paper}. " + verdict(effect,
                                                    f"{name(a)} minus {name(b)}, {METRIC_NAMES.get(value, value)}",
                                                     paper_sign=paper_sign, digits=digits)
    if len(diffs):
        line = line[:-1] + f"; the paper's way in {int((paper_sign * diffs > 0).sum())} of {len(diffs)} pairs."
    return line


def glue_text(name: str, markdown: str) -> None:
    """Glue Markdown under ``name`` for the page's summary (``{glue:md}`name` ``); outside a
    notebook kernel it is printed instead."""
    try:
        from IPython.display import Markdown
        from myst_nb import glue

        glue(name, Markdown(markdown), display=False)
    except ImportError:  # pragma: no cover
        print(markdown)


class _Plain:
    """A value whose text form is ``text`` itself (no quotes), for ``{glue:text}``."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def glue_value(name: str, value) -> None:
    """Glue a number (or a short plain text) under ``name`` for ``{glue:text}`name:.3f` `` in this
    page, or ``{glue:text}`executed/<group>/<notebook>::name:.3f` `` in another page (the intro)."""
    try:
        from myst_nb import glue

        if isinstance(value, (bool, np.bool_)):
            value = _Plain(str(bool(value)))
        elif isinstance(value, (int, np.integer)):
            value = int(value)
        elif isinstance(value, (float, np.floating)):
            value = float(value)  # text/plain "0.417", which {glue:text} formats (np.float64 would print its type)
        else:
            value = _Plain(str(value))
        glue(name, value, display=False)
    except ImportError:  # pragma: no cover
        print(f"{name}: {value}")


def page_summary(records: Iterable[Record], name: str = "summary", extra: str = "") -> str:
    """A page's summary from the records its notebook computed (passed explicitly; the same record
    passed twice counts once): what ran (methods, data, seeds, profile) and the mean of each metric
    per method. Glued under ``name`` for the top of the page (the page's source writes a
    ``{glue:md} summary`` directive under its title). ``extra`` (e.g. a :func:`verdict`) is appended.
    Returns the Markdown."""
    unique: dict[str, Record] = {}
    for r in records:
        if not isinstance(r, Record):
            raise DefectbookError(f"page_summary takes records, got {type(r).__name__}")
        unique.setdefault(r.key, r)
    records = list(unique.values())
    if not records:
        text = "This page computes no detector records (it shows the data, a model's internals or maps)."
    else:
        rows = [{"method": r.config["method"], **{k: v for k, v in r.metrics.items() if isinstance(v, (int, float))}}
                for r in records]
        df = pd.DataFrame(rows)
        metrics = [m for m in ("image_auroc", "pixel_auroc", "aupro") if m in df and df[m].notna().any()]
        data = sorted({data_label(r.config) for r in records})
        seeds = sorted({r.config.get("seed") for r in records}, key=str)
        profiles = sorted({str(r.config.get("profile")) for r in records})
        n_test = sorted({len(r.labels) for r in records if r.labels})
        sizes = (f"; {n_test[0]}" + (f" to {n_test[-1]}" if len(n_test) > 1 else "") + " test images per run"
                 if n_test else "")
        text = (f"Computed from {len(records)} records (profile {', '.join(profiles)}; data "
                f"{', '.join(data[:6]) + (f' and {len(data) - 6} more' if len(data) > 6 else '')}; "
                f"seeds {', '.join(map(str, seeds))}{sizes}).")
        if metrics:
            means = df.groupby("method")[metrics].mean()
            parts = []
            for m in metrics:
                vals = ", ".join(f"{meth} {v:.3f}" for meth, v in means[m].items() if not math.isnan(v))
                parts.append(f"{m.replace('_', ' ')}: {vals}")
            text += " Mean over all runs of the page, " + "; ".join(parts) + "."
        if "smoke" in profiles:
            text += " Smoke profile: tiny data and models, the numbers are not meaningful."
    if extra:
        text += "\n\n" + extra
    glue_text(name, text)
    return text



#: How :func:`differences_view` names :func:`~defectbook.evaluation.stats.method_differences`' columns on a page.
DIFFERENCE_COLUMNS = {"difference": "image AUROC difference", "low": "95 % low", "high": "95 % high",
                      "word": "verdict", "pixel difference": "pixel AUROC difference"}


def differences_view(diffs: pd.DataFrame, names: dict, columns: Iterable[str] = ("difference", "low", "high", "word"),
                     **extra) -> pd.DataFrame:
    """:func:`~defectbook.evaluation.stats.method_differences`' rows as a page shows them: a ``comparison`` column
    (``names[a] − names[b]``; first unless ``columns`` places it) and ``columns`` (``extra``: name -> one value per row,
    added before the selection), under the names of :data:`DIFFERENCE_COLUMNS`."""
    view = diffs.assign(comparison=[f"{names[a]} − {names[b]}" for a, b in zip(diffs.a, diffs.b)], **extra)
    cols = list(columns) if "comparison" in columns else ["comparison", *columns]
    return view[cols].rename(columns=DIFFERENCE_COLUMNS)




# --- "At larger scale" pages: the results bundle's curves ------------------------------------------

def bundle_note(curves: pd.DataFrame, short: bool = False) -> str:
    """Where a scale figure's numbers come from: "computed by `command` at commit ..., not in this build", per
    group of rungs that one command made at one commit (with the date, threads, GPU and wall time; ``short``:
    without them, for under a figure), from the rungs' manifests. Tiny test rungs say so."""
    if not len(curves):
        return "no rung in the results bundle"
    parts = []
    firsts = curves.drop_duplicates("rung").sort_values("index")
    for (command, commit), g in firsts.groupby(["command", "commit"], sort=False, dropna=False):
        rungs = ", ".join(g["rung"])
        r = g.iloc[0]
        where = "" if short else (f" on {str(r['date'])[:10]} ({r['threads']} threads"
                                  + (f", GPU {r['gpu']}" if r.get("gpu") else "")
                                  + f", {float(g['wall_s'].fillna(0).sum()) / 60:.1f} min)")
        parts.append(f"{rungs}: computed by `{command}` at commit {commit}{where}")
    tiny = " (tiny test rungs: smoke profile, not the declared settings)" if curves["tiny"].any() else ""
    return "; ".join(parts) + f"; not in this build (read from the results bundle){tiny}"


def bundled_records(rungs) -> list[Record]:
    """The records of bundled rungs (:class:`~defectbook.pipeline.bundle.BundledRung`) that pass their checks."""
    out = {}
    for r in rungs:
        for b in r.records:
            if b.ok and b.record is not None:
                out.setdefault(b.key, b.record)
    return list(out.values())


def scale_section(claim, rungs, paper: pd.DataFrame | None) -> str:
    """One claim of an "At larger scale" page: its curve(s) against the rung with the paper's value, the
    readings by :data:`~defectbook.analysis.scale.READING_RULE`, stale rungs named, the declared ladder
    with estimated and measured minutes, and the next rung's cost. ``rungs``: the bundles' rungs;
    ``paper``: the paper's table (:func:`~defectbook.analysis.scale.paper_effects`). Returns the claim's
    reading sentence (for the page's summary)."""
    data = ", ".join(data_label({"dataset": d, "category": c}) for d, c in claim.data)
    show(f"### {claim.title}\n\nClaim `{claim.id}`; effect: {claim.metric}, "
         f"{' and '.join(f'{claim.a} − {b}' for b in claim.b)} on {data}"
         + (f" ({claim.note})" if claim.note else "") + ".")
    curves = scale.curve_frame(claim, rungs)
    ladder = scale.ladder_table(claim, curves)
    if not len(curves):
        sentence = f"`{claim.id}`: no rung has been run yet (reading: undecided)."
        show(f"**No rung of this claim has been run yet**: the results bundle holds none. "
             f"`python benchmarks/scale_ladder.py --claim {claim.id}` runs the ladder below.")
        show(provenance([], extra="the results bundle holds no rung of this claim"))
    else:
        fig = plotting.scale_curves(curves, ladder[["rung", "setting"]], scale.paper_effects(claim, paper),
                                    f"effect: {claim.metric}", claim.title, bundle_note(curves, short=True))
        plt.show()
        plt.close(fig)
        readings = scale.readings(claim, curves)
        word = scale.claim_reading(readings)
        show(readings, index=False, digits=3)
        stale = sorted(set(curves.loc[curves["stale"].astype(bool), "rung"]))
        if stale:
            show(f"**Stale rungs** (a record changed key with today's code, or failed its checks; left out of the "
                 f"reading): {', '.join(stale)}.")
        sentence = f"`{claim.id}`: **{word}** over {len(set(curves['rung']) - set(stale))} rungs."
        show(f"Reading: {sentence}")
        show(provenance(bundled_records([r for r in rungs if r.claim == claim.id]),
                        extra=bundle_note(curves)))
    show(ladder, index=False, digits=1)
    show(scale.next_rung_text(claim))
    return sentence


def scale_page(paper: str, bundle_dir=None, gpu_bundle_dir=None) -> tuple[list[Record], str]:
    """An "At larger scale" page: the reading rule, then :func:`scale_section` for each of ``paper``'s claims
    (:func:`defectbook.analysis.scale.claims_of`) from the 2-core bundle (``bundle_dir``, default
    ``bundles/scale``) and the GPU bundle (``gpu_bundle_dir``, default ``bundles/gpu``). Returns the
    bundled records it drew (for :func:`page_summary`) and the claims' reading sentences."""
    rungs = bundle.read(bundle_dir).rungs + bundle.read(gpu_bundle_dir or bundle.default_root(bundle.GPU)).rungs
    show(f"**The reading rule.** {scale.READING_RULE}")
    readings = [scale_section(c, rungs, paper_values.load(c.paper_table)) for c in scale.claims_of(paper)]
    return bundled_records([r for r in rungs if r.claim.startswith(f"{paper}.")]), " ".join(readings)
