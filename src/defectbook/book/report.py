"""What a book page shows: provenance lines, tables, the summary and verdict at the top of a page.

One table style for the whole book (:func:`table`): floats with a fixed number of decimals, ``—``
for a missing value (never ``nan``), flat column and row labels (never a tuple such as ``('d', 16)``).
Pages open with a summary glued from their records (:func:`glue_text`), ending with a computed
verdict on the paper's effect (:func:`verdict`).
"""
from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path
from typing import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import DefectbookError, settings
from ..analysis import claims, scale
from ..config import data_label
from ..data.synthetic import CALIBRATION
from ..paths import claims_dir, shown_dir
from ..pipeline import bundle
from ..pipeline.ledger import NOTEBOOK_ENV
from ..pipeline.spec import LABELS, differences
from ..pipeline.store import Record

# plotting's import also sets the book's figure style, so every page's figures share it
from . import paper_values, plotting


def provenance(records: Iterable[Record], extra: str = "") -> str:
    """What produced a table or figure: profile, data, image size, backbone, device, seeds on one visible
    line; methods, record count, code version and commits, parameters that differ from the profile and the
    synthetic data's calibration folded below it (an HTML ``<details>`` block).

    Every table and figure of the book is followed by it (as Markdown). Warnings (smoke profile, dry run)
    stay on the visible line.
    """
    records = list(records)
    if not records:
        return "**Provenance:** no records (nothing was computed)." + (f" {extra}" if extra else "")
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
    nets = sorted({_network(b) for b in backbones})
    line = (f"**Provenance:** profile={', '.join(profiles)} · data={', '.join(data)} · image size={', '.join(sizes)} · "
            f"backbone={', '.join(nets)} · device={', '.join(devices)} · seeds={', '.join(map(str, seeds))}")
    if any(r.config.get("profile") == "smoke" for r in records):
        line += " · **smoke profile: tiny data and models, the numbers are not meaningful**"
    if any(r.config.get("dry_run") for r in records):
        line += (" · **dry run: random weights, synthetic stand-ins for the real datasets, a few images and "
                 "training steps: the numbers are not results**")
    more = [f"methods={', '.join(LABELS.get(m, m) for m in methods)}", f"backbone layers={'; '.join(backbones)}",
            f"{len(records)} records", f"defectbook {records[0].env.get('defectbook')} @ {', '.join(commits)}"]
    threads = sorted({r.env.get("torch_threads") for r in records} - {None})
    if threads:   # a trained network's result depends on it (the order of float sums)
        more.append(f"torch threads={', '.join(map(str, threads))}")
    more += [d for d in [_differences(records)] if d]
    if any(r.config.get("dataset") == "synthetic" for r in records):
        more.append(CALIBRATION)
    if extra:
        more.append(extra)
    return f"{line}\n\n<details><summary>provenance details</summary>\n\n{' · '.join(more)}\n\n</details>"


def _network(backbone: str) -> str:
    """The network and its weights of a record's backbone description, without its layers:
    ``efficientnet_lite0[imagenet] layer1+layer2`` -> ``efficientnet_lite0[imagenet]``; TrustMAE's perceptual
    distance (``PD: offline-unit[vgg19[random] ...]``) -> ``vgg19[random] (perceptual distance)``."""
    m = re.search(r"[A-Za-z0-9_]+\[[^\[\]]*\]", backbone)
    if m is None:
        return backbone
    return m.group(0) + (" (perceptual distance)" if backbone.startswith("PD:") else "")


def _differences(records: list[Record]) -> str:
    """`` · params differing from the profile: d=20; ...`` (every value seen), or ``""``."""
    seen: dict[str, list] = {}
    for r in records:
        for k, v in differences(r.config).items():
            if v not in seen.setdefault(k, []):
                seen[k].append(v)
    if not seen:
        return ""
    return "params differing from the profile: " + "; ".join(
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
    :func:`table` (``table_options``: ``digits``, ``index``, ``percent``), the book's one table style; None
    (a sentence a page has nothing to say in) shows nothing."""
    if md is None:
        return
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

#: What each verdict word says, for the sentences and the glossary.
WORDS = {"agrees": "ours agrees with the paper", "disagrees": "ours disagrees with the paper",
         "undecided": "undecided", "not testable": "not testable here"}


def _signed(v, digits: int = 3) -> str:
    return MISSING if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:+.{digits}f}"


def _name(x) -> str:
    return LABELS.get(x, x) if isinstance(x, str) else f"{x:g}" if isinstance(x, float) else str(x)


def verdict_sentence(j: dict, paper_effect: float | None = None, digits: int = 3) -> str:
    """A judgement of :func:`defectbook.analysis.claims.judge` in words: the claim (with the paper's own
    effect when given), the verdict word and, per competitor, our effect, its interval and how it was
    computed."""
    c = j["claim"]
    paper = f" (paper: {paper_effect:+.{digits}f})" if paper_effect is not None and not math.isnan(paper_effect) else ""
    metric = METRIC_NAMES.get(c.metric, c.metric)
    what = f"drop from the lowest to the highest {c.over} minus that of" if c.design == "drop" else "minus"
    parts = []
    for r in j["rows"].to_dict("records"):
        head = f"{_name(j['subject'])} {what} {_name(r['competitor'])}"
        if r["word"] == "not testable":
            parts.append(f"{head}: not testable here ({r['method']})")
            continue
        lo, hi = r["low"], r["high"]
        ci = f"[{_signed(lo, digits)}, {_signed(hi, digits)}]" if not math.isnan(lo) else "no interval"
        aside = f", {r['set aside']} set aside at the ceiling or floor" if r["set aside"] else ""
        parts.append(f"{head}: {_signed(r['difference'], digits)} {ci} ({r['method']}, {r['units']} units{aside}, "
                     f"the paper's way in {r['agreeing units']}): {r['word']}")
    body = "; ".join(parts) if parts else "no run of this page compares them"
    return (f"**Paper:** {c.claim}{paper} **Verdict: {WORDS[j['word']]}** ({metric}, the ledger's "
            f"[{c.id}](claims-ledger) rule): {body}.")


def claim_verdict(claim_id: str, frame: pd.DataFrame, records: Iterable[Record] = (), paper_effect: float | None = None,
                  reference: float | None = None, n_boot: int = 2000, digits: int = 3) -> str:
    """A page's verdict on the ledger's claim ``claim_id`` (:mod:`defectbook.analysis.claims`), from the
    page's result ``frame`` and ``records`` (per-image scores, provenance): the one rule of
    :mod:`defectbook.evaluation.stats`. The word is glued as ``verdict``; the judgement is left in
    :func:`defectbook.paths.claims_dir` for the ledger page. Returns :func:`verdict_sentence`."""
    records = list(records)
    j = claims.judge(claim_id, frame, records, reference=reference, n_boot=n_boot)
    glue_value("verdict", j["word"])
    profiles = sorted({str(r.config.get("profile")) for r in records}) or ["unknown"]
    dry = any(r.config.get("dry_run") for r in records)
    save_judgement(claims.judgement_record(j, profiles[0], dry, paper_effect)
                   | {"records": sorted({r.key for r in records})})
    return verdict_sentence(j, paper_effect, digits)


def declared_table(ledger: pd.DataFrame) -> pd.DataFrame:
    """:func:`defectbook.analysis.claims.ledger_frame` as the book shows it: each claim by its short name (the id
    without its paper, in words, so the column wraps), the metric in words; the page and the central flag left out
    (the scorecard links the pages)."""
    return ledger.drop(columns=["central", "page"]).assign(
        id=[_short_name(i) for i in ledger["id"]],
        metric=[METRIC_NAMES.get(m, m) for m in ledger["metric"]]).rename(columns={"id": "name"})


def _short_name(claim_id: str) -> str:
    """A claim's id without its paper, in words: ``trustmae.noise_robustness`` -> ``noise robustness``."""
    return claim_id.split(".", 1)[1].replace("_", " ")


def _against(value, by: str) -> str:
    """A competitor as the scorecard names it: a method or setting by its label; a bare number (a sweep's
    value, e.g. delta2 = 0) with the name of the quantity it sets."""
    try:
        float(value)
    except (TypeError, ValueError):
        return _name(value)
    return f"{by} = {_name(value)}"


def page_link(page: str, text: str) -> str:
    """A link to the executed page ``group/notebook``, reading ``text``."""
    return f"{{doc}}`{text} </book/executed/{page}>`"


def intro_link(page: str, text: str) -> str:
    """An HTML link to the executed page ``group/notebook`` from the introduction (``book/intro``)."""
    return f'<a href="executed/{page}.html">{html.escape(text)}</a>'


def scorecard_table(card: pd.DataFrame, central_only: bool = False, link=page_link) -> pd.DataFrame:
    """:func:`defectbook.analysis.claims.scorecard` as the book shows it: the claim linked to its page (``link``:
    :func:`page_link`, or :func:`intro_link` for HTML), the data, our effect against the competitor that decides
    it, with its interval, and the verdict."""
    card = card[card["central"]] if central_only else card
    return pd.DataFrame({
        "paper": card["paper"], "claim": [link(p, _short_name(i)) for p, i in zip(card["page"], card["id"])],
        "data": card["data"], "against": [_against(a, by) for a, by in zip(card["against"], card["by"])],
        "metric": [METRIC_NAMES.get(m, m) for m in card["metric"]],
        "effect [95 % interval]": [MISSING if math.isnan(e) else f"{_signed(e)} (no interval)" if math.isnan(lo)
                                   else f"{_signed(e)} [{_signed(lo)}, {_signed(hi)}]"
                                   for e, lo, hi in zip(card["effect"], card["low"], card["high"])],
        "verdict": card["verdict"], "trend over scale": card["trend over scale"]})


def judgement_folder(profile: str, dry_run: bool = False) -> Path:
    """Where the judgements of one profile's pages lie (:func:`defectbook.paths.claims_dir`)."""
    return claims_dir() / (f"{profile}-dry-run" if dry_run else profile)


def save_judgement(record: dict) -> Path:
    """Write one page's judgement (JSON) for the ledger page; atomic, one file per claim."""
    folder = judgement_folder(record["profile"], record["dry_run"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record['id']}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str))
    tmp.replace(path)
    return path


def load_judgements(profile: str, dry_run: bool = False) -> list[dict]:
    """The judgements the pages of ``profile`` left (:func:`save_judgement`), in the ledger's order."""
    folder = judgement_folder(profile, dry_run)
    found = {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}
    return [found[i] for i in claims.ledger() if i in found]


def shown_folder(profile: str, dry_run: bool = False) -> Path:
    """Where the pages of one profile list the records they show (:func:`defectbook.paths.shown_dir`)."""
    return shown_dir() / (f"{profile}-dry-run" if dry_run else profile)


def save_shown(page: str, records: Iterable[Record]) -> Path | None:
    """Write the keys of the records page ``page`` (``group/notebook``) shows, per profile and dry-run mode of
    the records (atomic; one file per page); None when there is no record (nothing to name)."""
    records = list(records)
    if not records:
        return None
    profile = str(records[0].config.get("profile"))
    folder = shown_folder(profile, bool(records[0].config.get("dry_run")))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{page.replace('/', '__')}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"page": page, "records": sorted({r.key for r in records})}, indent=1))
    tmp.replace(path)
    return path


def load_shown(profile: str, dry_run: bool = False) -> dict[str, set]:
    """``page -> keys of the records it showed`` in the last run of each page of ``profile`` (:func:`save_shown`)."""
    folder = shown_folder(profile, dry_run)
    found = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    return {f["page"]: set(f["records"]) for f in found}


class _Both:
    """Markdown for this page's ``{glue:md}`` and HTML for another page's ``{glue}`` with ``:doc:`` (myst-nb
    pastes HTML, text and images from another document, never Markdown)."""

    def __init__(self, markdown: str, html_text: str):
        self.markdown, self.html = markdown, html_text

    def _repr_markdown_(self) -> str:
        return self.markdown

    def _repr_html_(self) -> str:
        return self.html


def glue_text(name: str, markdown: str, html_text: str | None = None) -> None:
    """Glue Markdown under ``name`` for the page's summary (``{glue:md}`name` ``), with ``html_text`` beside it
    for another page (``{glue} name`` with ``:doc:``); outside a notebook kernel it is printed instead."""
    try:
        from IPython.display import Markdown
        from myst_nb import glue

        glue(name, Markdown(markdown) if html_text is None else _Both(markdown, html_text), display=False)
    except ImportError:  # pragma: no cover
        print(markdown)


def html_table(df: pd.DataFrame, index: bool = True) -> str:
    """``df`` as an HTML table in the book's table style (its cells already text or numbers; links kept)."""
    return df.to_html(index=index, escape=False, border=0, classes=["table"], na_rep=MISSING)


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


def glue_values(values: dict) -> None:
    """:func:`glue_value` of every ``name: value`` of ``values`` (a page's headline numbers)."""
    for name, value in values.items():
        glue_value(name, value)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


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
    if settings.get(NOTEBOOK_ENV):      # a batch build: name the page's records for the reproducibility report
        save_shown(settings.get(NOTEBOOK_ENV), records)
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
        methods = {r.config["method"] for r in records}
        text = (f"{_count(len(records), 'run')} of {_count(len(methods), 'method')} on "
                f"{', '.join(data[:6]) + (f' and {len(data) - 6} more' if len(data) > 6 else '')} (profile "
                f"{', '.join(profiles)}; {'seed' if len(seeds) == 1 else 'seeds'} {', '.join(map(str, seeds))}"
                f"{sizes}).")
        if metrics:
            means = df.groupby("method")[metrics].mean()
            parts = []
            for m in metrics:
                vals = ", ".join(f"{LABELS.get(meth, meth)} {v:.3f}" for meth, v in means[m].items()
                                 if not math.isnan(v))
                parts.append(f"{METRIC_NAMES.get(m, m)}: {vals}")
            text += " Means over these runs, " + "; ".join(parts) + "."
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


def bundle_rungs(bundle_dir=None, gpu_bundle_dir=None) -> list:
    """The rungs of the 2-core results bundle (``bundle_dir``, default ``bundles/scale``) and of the GPU bundle
    (``gpu_bundle_dir``, default ``bundles/gpu``)."""
    return bundle.read(bundle_dir).rungs + bundle.read(gpu_bundle_dir or bundle.default_root(bundle.GPU)).rungs


def scale_page(paper: str, bundle_dir=None, gpu_bundle_dir=None) -> tuple[list[Record], str]:
    """An "At larger scale" page: the reading rule, then :func:`scale_section` for each of ``paper``'s claims
    (:func:`defectbook.analysis.scale.claims_of`) from the 2-core bundle (``bundle_dir``, default
    ``bundles/scale``) and the GPU bundle (``gpu_bundle_dir``, default ``bundles/gpu``). Returns the
    bundled records it drew (for :func:`page_summary`) and the claims' reading sentences."""
    rungs = bundle_rungs(bundle_dir, gpu_bundle_dir)
    show(f"**The reading rule.** {scale.READING_RULE}")
    readings = [scale_section(c, rungs, paper_values.load(c.paper_table)) for c in scale.claims_of(paper)]
    return bundled_records([r for r in rungs if r.claim.startswith(f"{paper}.")]), " ".join(readings)
