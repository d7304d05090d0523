"""The claims ledger and the one verdict rule every results page applies.

``claims.yaml`` (package data beside this module) declares, once and before any result, every claim a
page tests: the paper, the claim in one sentence, the paper's headline metric for it, the method (or
setting) the paper favours (``subject``), every competitor it names, the direction the paper reports
and the page. :func:`ledger` loads and validates it; :func:`judge` applies the rule of
:mod:`defectbook.evaluation.stats` to a page's result frame (and, for per-image scores, its records):
one comparison per competitor, combined into one verdict word (:data:`~defectbook.evaluation.stats.VERDICTS`).

A ledger entry's fields: ``id`` (``<paper>.<name>``), ``paper``, ``page`` (``group/notebook``), ``claim``,
``metric`` (a column of the page's frame), ``by`` (the frame's column naming subject and competitors),
``subject``, ``competitors`` (a list), ``direction`` (``higher`` or ``lower``: the subject's value, or for
``design: drop`` its drop, against the competitor's), optional ``pair_on`` (the frame's columns that pair
two rows on the same test images; default data set and seed), ``reference`` (a number, or ``paper`` when
the page passes the paper's printed value: the competitor is that constant), ``design`` (``difference``,
the default, or ``drop``: the change from the lowest to the highest value of ``over``), ``band`` (false
for quantities that are not AUROC-like: no ceiling or floor) and ``central`` (a headline claim of its
paper, shown first on the scorecard).

``subject`` and ``competitors`` name values of ``by``; ``@max``/``@min`` (largest/smallest value, numbers
in names compared as numbers), ``@first``/``@last`` (in the frame's order) and, for competitors,
``@others`` (every value but the subject) are resolved on the page's frame.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import yaml

from .. import DefectbookError
from ..evaluation import stats
from ..evaluation.metrics import image_auroc
from ..pipeline.store import Record

HERE = Path(__file__).parent
PAPERS = {"trustmae": "TrustMAE", "npad": "N-pad", "differnet": "DifferNet", "ndpnet": "NDP-Net", "padim": "PaDiM"}
FIELDS = {"id", "paper", "page", "claim", "metric", "by", "subject", "competitors", "direction", "pair_on",
          "reference", "design", "over", "band", "central"}
#: The metrics compared with per-image scores (a paired bootstrap over the test images).
IMAGE_METRICS = ("image_auroc",)


@dataclass(frozen=True)
class Claim:
    """One ledger entry (module docstring)."""

    id: str
    paper: str
    page: str
    claim: str
    metric: str
    by: str
    subject: object
    competitors: tuple
    direction: str = "higher"
    pair_on: tuple = ("data", "seed")
    reference: object = None
    design: str = "difference"
    over: str | None = None
    band: bool = True
    central: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def sign(self) -> int:
        return 1 if self.direction == "higher" else -1


def _claim(entry: dict) -> Claim:
    if not isinstance(entry, dict):
        raise DefectbookError(f"a ledger entry must be a mapping, got {entry!r}")
    name = entry.get("id", "?")
    unknown = set(entry) - FIELDS
    missing = {"id", "paper", "page", "claim", "metric", "by", "subject", "competitors"} - set(entry)
    if unknown or missing:
        raise DefectbookError(f"ledger entry {name}: unknown fields {sorted(unknown)}, missing {sorted(missing)}")
    if entry["paper"] not in PAPERS or not str(name).startswith(f"{entry['paper']}."):
        raise DefectbookError(f"ledger entry {name}: paper must be one of {sorted(PAPERS)} and prefix the id")
    if entry.get("direction", "higher") not in ("higher", "lower"):
        raise DefectbookError(f"ledger entry {name}: direction must be 'higher' or 'lower'")
    if entry.get("design", "difference") not in ("difference", "drop") or (
            entry.get("design") == "drop" and not entry.get("over")):
        raise DefectbookError(f"ledger entry {name}: design must be 'difference' or 'drop' (with 'over')")
    comps = entry["competitors"]
    if not isinstance(comps, list) or not comps:
        raise DefectbookError(f"ledger entry {name}: competitors must be a non-empty list")
    ref = entry.get("reference")
    if ref is not None and ref != "paper" and not isinstance(ref, (int, float)):
        raise DefectbookError(f"ledger entry {name}: reference must be a number or 'paper'")
    if not re.fullmatch(r"[a-z]+/[A-Za-z0-9_]+", str(entry["page"])):
        raise DefectbookError(f"ledger entry {name}: page must read 'group/notebook', got {entry['page']!r}")
    return Claim(id=name, paper=entry["paper"], page=entry["page"], claim=str(entry["claim"]).strip(),
                 metric=entry["metric"], by=entry["by"], subject=entry["subject"], competitors=tuple(comps),
                 direction=entry.get("direction", "higher"), pair_on=tuple(entry.get("pair_on", ("data", "seed"))),
                 reference=ref, design=entry.get("design", "difference"), over=entry.get("over"),
                 band=bool(entry.get("band", True)), central=bool(entry.get("central", False)))


@lru_cache(maxsize=None)
def ledger(path: str | None = None) -> dict[str, Claim]:
    """The claims ledger (``claims.yaml``, or ``path``): id -> :class:`Claim`, in the file's order."""
    text = Path(path or HERE / "claims.yaml").read_text()
    entries = yaml.safe_load(text) or []
    out: dict[str, Claim] = {}
    for e in entries:
        c = _claim(e)
        if c.id in out:
            raise DefectbookError(f"ledger entry {c.id} is declared twice")
        out[c.id] = c
    return out


def claim(claim_id: str) -> Claim:
    """The ledger's claim ``claim_id``; :class:`~defectbook.DefectbookError` when it is not declared."""
    try:
        return ledger()[claim_id]
    except KeyError:
        raise DefectbookError(f"no claim {claim_id!r} in the ledger (analysis/claims.yaml)") from None


def _natural(v) -> tuple:
    return tuple((0, float(t), "") if re.fullmatch(r"\d+(\.\d+)?", t) else (1, 0.0, t)
                 for t in re.findall(r"\d+(?:\.\d+)?|\D+", str(v)))


def _resolve(token, values: list) -> list:
    if not isinstance(token, str) or not token.startswith("@"):
        return [token]
    if not values:
        return []
    if token in ("@max", "@min"):
        try:
            ordered = sorted(values, key=float)
        except (TypeError, ValueError):
            ordered = sorted(values, key=_natural)
        return [ordered[-1] if token == "@max" else ordered[0]]
    if token in ("@first", "@last"):
        return [values[0] if token == "@first" else values[-1]]
    raise DefectbookError(f"unknown ledger token {token!r} (@max, @min, @first, @last, @others)")


def resolve(c: Claim, frame: pd.DataFrame) -> tuple[object, list]:
    """The subject and the competitors of ``c`` among the values of ``frame[c.by]``."""
    values = list(dict.fromkeys(frame[c.by].dropna())) if c.by in frame else []
    subject = (_resolve(c.subject, values) or [c.subject])[0]
    comps: list = []
    for t in c.competitors:
        comps += [v for v in values if v != subject] if t == "@others" else _resolve(t, values)
    return subject, list(dict.fromkeys(comps))


def _scores_of(records: dict, key, value: float):
    """The per-image (labels, defects, scores) of record ``key`` when its image AUROC is ``value`` (the frame's
    number is the record's own score), else None."""
    r = records.get(key)
    if r is None or not r.scores or not r.labels or len(set(r.labels)) < 2:
        return None
    if value is None or math.isnan(value) or abs(image_auroc(r.labels, r.scores) - value) > 1e-9:
        return None
    return r


def _units(c: Claim, frame: pd.DataFrame, subject, comp, reference) -> pd.DataFrame:
    """One row per unit: the pairing columns, ``values`` (the compared values) and the terms ``(coef, key,
    value)`` of the unit's effect."""
    keys = [k for k in c.pair_on if k in frame] or ["_all"]
    df = frame.assign(_all=0)
    if c.design == "drop":
        df = df.assign(**{c.over: df[c.over].fillna(0.0)})
        lo, hi = df[c.over].min(), df[c.over].max()
        levels = [(lo, 1), (hi, -1)]
    else:
        levels = [(None, 1)]
    rows = []
    for unit, g in df.groupby(keys, sort=True, dropna=False):
        terms = []
        for who, sign in ((subject, 1), (comp, -1)):
            if who is None:
                continue
            for level, lsign in levels:
                sel = g[(g[c.by] == who) & ((g[c.over] == level) if level is not None else True)]
                sel = sel[sel[c.metric].notna()] if c.metric in sel else sel.iloc[0:0]
                if not len(sel):
                    terms = None
                    break
                terms.append((sign * lsign, sel["key"].iloc[0] if "key" in sel else None, float(sel[c.metric].iloc[0])))
            if terms is None:
                break
        if not terms:
            continue
        offset = -float(reference) if comp is None else 0.0
        rows.append({"unit": unit if isinstance(unit, tuple) else (unit,), "terms": terms, "offset": offset,
                     "data": g["data"].iloc[0] if "data" in g else _unit_label(keys, unit),
                     "effect": sum(k * v for k, _, v in terms) + offset,
                     "values": [v for _, _, v in terms] + ([float(reference)] if comp is None else [])})
    return pd.DataFrame(rows)


def _compare(c: Claim, frame: pd.DataFrame, records: dict, subject, comp, reference, n_boot: int, seed: int) -> dict:
    name = comp if comp is not None else f"{reference:.3f} (reference)"
    units = _units(c, frame, subject, comp, reference)
    row = {"competitor": name, "difference": math.nan, "low": math.nan, "high": math.nan, "units": len(units),
           "set aside": 0, "agreeing units": 0, "method": "—", "word": "undecided", "keys": [], "data": ""}
    if not len(units):
        return row | {"word": "not testable", "method": "not run on this page"}
    if c.band:
        band = [stats.in_band(v) for v in units["values"]]
        row["set aside"] = sum(b is not None for b in band)
        units = units[[b is None for b in band]]
        if not len(units):
            return row | {"word": "not testable", "method": f"every unit at the {band[0]}"}
    row["keys"] = sorted({k for t in units["terms"] for _, k, _ in t if k is not None})
    row["data"] = ", ".join(sorted({str(d).rstrip(":") for d in units["data"]}))
    if "data" not in frame and records:   # a frame of one run's quantities: its data are the page's records'
        row["data"] = ", ".join(sorted({f"{r.config.get('dataset')}:{r.config.get('category') or ''}".rstrip(":")
                                        for r in records.values()}))
    row["agreeing units"] = int((c.sign * units["effect"] > 0).sum())
    image = None
    if c.metric in IMAGE_METRICS:
        image = []
        for u in units.itertuples():
            recs = [_scores_of(records, k, v) for _, k, v in u.terms]
            if any(r is None for r in recs) or len({(tuple(r.labels), tuple(map(str, r.defects))) for r in recs}) > 1:
                image = None
                break
            image.append({"data": u.data, "labels": recs[0].labels, "defects": recs[0].defects, "offset": u.offset,
                          "terms": [(coef, r.scores) for (coef, _, _), r in zip(u.terms, recs)]})
    effect = (stats.image_bootstrap(image, n_boot=n_boot, seed=seed) if image
              else stats.unit_bootstrap(units["effect"], n_boot=n_boot, seed=seed))
    return row | {k: effect[k] for k in ("difference", "low", "high")} | {
        "method": {"images": "paired bootstrap over test images", "units": "bootstrap over units"}[effect["method"]]
        + ("" if effect["method"] == "images" or effect["n"] >= stats.MIN_UNITS else
           f" (fewer than {stats.MIN_UNITS} units: no interval)"),
        "word": stats.direction_word(effect, c.sign)}


def judge(claim_id: str, frame: pd.DataFrame, records: Iterable[Record] = (), reference: float | None = None,
          n_boot: int = 2000, seed: int = 0) -> dict:
    """The rule applied to ``claim_id`` on a page's result ``frame`` (one row per run: the claim's ``by``,
    ``metric`` and pairing columns; ``key`` links a row to its record in ``records`` for per-image scores).

    Returns ``{"claim": Claim, "subject", "rows": DataFrame (one per competitor: competitor, difference,
    low, high, units, set aside, paper's way, method, word, keys), "word"}``; ``reference``: the paper's
    printed value where the ledger says ``reference: paper``."""
    c = claim(claim_id)
    frame = pd.DataFrame(frame) if not isinstance(frame, pd.DataFrame) else frame
    if len(frame) and (c.by not in frame or c.metric not in frame):
        raise DefectbookError(f"claim {claim_id}: the page's frame lacks the column {c.by!r} or {c.metric!r}")
    if c.reference == "paper" and reference is None:
        raise DefectbookError(f"claim {claim_id}: the ledger compares with the paper's value; pass reference=")
    ref = reference if c.reference == "paper" else c.reference
    by_key = {r.key: r for r in records}
    subject, comps = resolve(c, frame) if len(frame) else (c.subject, [])
    if ref is not None:
        comps = [None]
    rows = [_compare(c, frame, by_key, subject, b, ref, n_boot, seed) for b in comps] if len(frame) else []
    table = pd.DataFrame(rows, columns=["competitor", "difference", "low", "high", "units", "set aside",
                                        "agreeing units", "method", "word", "keys", "data"])
    word = stats.combine_words(table["word"]) if len(table) else "not testable"
    return {"claim": c, "subject": subject, "rows": table, "word": word}


def judgement_record(j: dict, profile: str, dry_run: bool, paper_effect: float | None = None) -> dict:
    """A judgement as JSON-ready data for the ledger page (:func:`judge`'s result, the page's profile)."""
    c = j["claim"]
    rows = j["rows"].astype(object).where(j["rows"].notna(), None).to_dict("records")
    for r in rows:
        r["competitor"] = str(r["competitor"])
    return {"id": c.id, "paper": c.paper, "page": c.page, "profile": profile, "dry_run": bool(dry_run),
            "subject": str(j["subject"]), "word": j["word"], "rows": rows,
            "paper_effect": None if paper_effect is None or math.isnan(paper_effect) else float(paper_effect)}


def ledger_frame() -> pd.DataFrame:
    """The ledger as a table: one row per claim (paper, id, claim, metric, subject, competitors, direction, page)."""
    return pd.DataFrame([{"paper": PAPERS[c.paper], "id": c.id, "claim": c.claim, "metric": c.metric,
                          "subject": str(c.subject), "competitors": ", ".join(map(str, c.competitors))
                          if c.reference is None else f"reference {c.reference}",
                          "direction": c.direction, "page": c.page, "central": c.central}
                         for c in ledger().values()])


def _unit_label(keys: list[str], unit) -> str:
    """A unit named for a reader: ``synthetic:washer, seed 0`` (the values of the pairing keys; a seed, a
    noise level or a size says which)."""
    values = unit if isinstance(unit, tuple) else (unit,)
    return ", ".join(str(v) if k in ("category", "data", "_all") or str(v).startswith(k) else f"{k} {v}"
                     for k, v in zip(keys, values))


def scorecard(judgements: Iterable[dict], trends: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per ledger claim, judged or not: paper, id, central, page, data units, our effect and interval
    (the first competitor's row; a claim with several competitors shows the one whose interval sits closest
    to the paper's side failing, i.e. the lowest ``sign x low``), verdict, seeds-run cost columns left to the
    caller, and ``trend over scale`` (``trends[id]``, :func:`defectbook.analysis.scale.trends`; None for a claim
    with no scale ladder)."""
    by_id = {j["id"]: j for j in judgements}
    rows = []
    for c in ledger().values():
        j = by_id.get(c.id)
        row = {"paper": PAPERS[c.paper], "id": c.id, "central": c.central, "page": c.page, "claim": c.claim,
               "metric": c.metric, "by": c.by, "data": "—", "effect": math.nan, "low": math.nan, "high": math.nan,
               "against": "—", "units": 0, "verdict": "not run", "trend over scale": (trends or {}).get(c.id)}
        if j and j["rows"]:
            # a row without an interval (a competitor with no record) never stands for a judged claim
            worst = min(j["rows"], key=lambda r: (c.sign * r["low"]) if r["low"] is not None else np.inf)
            row.update(effect=_num(worst["difference"]), low=_num(worst["low"]), high=_num(worst["high"]),
                       against=worst["competitor"], units=int(worst["units"] or 0), verdict=j["word"],
                       data=worst.get("data") or "—")
        elif j:
            row["verdict"] = j["word"]
        rows.append(row)
    return pd.DataFrame(rows)


def _num(v) -> float:
    return math.nan if v is None else float(v)


def counts(card: pd.DataFrame) -> pd.DataFrame:
    """Verdicts per paper (rows) of a :func:`scorecard`, with every word of the vocabulary and ``not run``."""
    words = list(stats.VERDICTS) + ["not run"]
    t = card.pivot_table(index="paper", columns="verdict", values="id", aggfunc="count").reindex(columns=words)
    t = t.reindex([p for p in PAPERS.values() if p in set(card["paper"])]).fillna(0).astype(int)
    t["claims"] = t.sum(axis=1)
    return t


def seed_cost(judgements: Iterable[dict], records: Iterable[Record]) -> pd.DataFrame:
    """What one more seed of every judged claim would cost at this profile, per paper: the claims judged,
    their records, the seeds they ran, and the measured compute (fit + predict seconds of the records, in
    minutes) per seed; a record shared by several claims counts once."""
    recs = {r.key: r for r in records}
    rows = []
    for paper, name in PAPERS.items():
        js = [j for j in judgements if j["paper"] == paper]
        keys = sorted({k for j in js for k in j.get("records", []) if k in recs})
        if not js:
            continue
        seeds = sorted({recs[k].config.get("seed") for k in keys}, key=str)
        minutes = sum(float(recs[k].timings.get("fit_s") or 0) + float(recs[k].timings.get("predict_s") or 0)
                      for k in keys) / 60
        rows.append({"paper": name, "claims judged": len(js), "records": len(keys), "seeds run": len(seeds),
                     "compute (min)": minutes, "one more seed (min)": minutes / max(len(seeds), 1)})
    return pd.DataFrame(rows, columns=["paper", "claims judged", "records", "seeds run", "compute (min)",
                                       "one more seed (min)"])
