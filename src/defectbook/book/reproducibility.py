"""The generated reproducibility report: every paper-table cell the book reproduces, ours beside it.

Three files beside the paper values (:mod:`defectbook.book.paper_values`) drive it:

* ``<table>.csv``: the paper's numbers (facts);
* ``reproductions.yaml``: for every row of every CSV, the page that shows it and where our value comes
  from (chapter, method, params, split, score) or ``quoted`` (shown, not rerun);
* ``tolerances.csv``: per table, the tolerance, the noise factor, the paper's data, backbone and
  number of averaged categories, declared before any result was looked at.

:func:`cells` lists the reproduced cells; :func:`load_records` reads this build's records from the
store. A cell quotes only the records its page showed in this build (every page names them when it
runs: :func:`defectbook.book.report.save_shown`), so the report never takes another page's split or
another chapter's runs for a cell. Among them :func:`ours` finds the cell's records (:func:`matches`:
method, params, split, transform; a record that changes a param the selector does not name never
matches) and :func:`judge` gives each cell a word by :func:`verdict_of` (the glossary's):

* **not computed**: the page did not run in this build (profile, dry run), or none of its records
  matches the cell;
* **not comparable**: our records ran on other data than the paper's (synthetic stand-ins, fewer
  categories), in the smoke profile or the dry run, or the column is declared not comparable (times on
  other hardware);
* **comparable but for the backbone or scale**: the paper's own real data (MTD, DAGM) and categories,
  but another backbone or a reduced profile (smaller images, fewer epochs); the difference is shown,
  and ``why`` says whether it is within the tolerance;
* **value matches**: comparable, and ``|ours - paper| <= tolerance``, or ``<= tolerance + noise_k x sd``
  (``sd``: our value's standard deviation over seeds; two seeds or more);
* **value differs**: comparable, and neither.
"""
from __future__ import annotations

import importlib
import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .. import DefectbookError
from ..evaluation.metrics import image_auroc
from ..evaluation.stats import interval
from ..pipeline.keys import key_of
from ..pipeline.spec import DRY_RUN, default_chapter, differences, dry_run, load, make_config, synthetic_data
from ..pipeline.spec import chapter as _chapter
from ..pipeline.spec import dry_run as _dry
from ..pipeline.store import Store
from .report import load_shown, page_link

HERE = Path(__file__).parent / "paper_values"
#: The report's words for a cell (:func:`verdict_of`), in the order of its tables.
TIER = "comparable but for the backbone or scale"
VERDICTS = ("value matches", "value differs", TIER, "not comparable", "not computed")
PAPERS = {"trustmae": "TrustMAE", "npad": "N-pad", "differnet": "DifferNet", "ndpnet": "NDP-Net"}


# --- declarations -----------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def mapping() -> dict:
    """``reproductions.yaml``: table -> its declaration."""
    return yaml.safe_load((HERE / "reproductions.yaml").read_text())


@lru_cache(maxsize=None)
def tolerances() -> pd.DataFrame:
    """``tolerances.csv`` indexed by table."""
    t = pd.read_csv(HERE / "tolerances.csv", comment="#", skipinitialspace=True, keep_default_na=False)
    t["paper_backbone"] = t["paper_backbone"].astype(str)
    return t.set_index("table")


def raw(table: str) -> pd.DataFrame:
    """A paper-values CSV as printed (no scaling); the label columns as strings."""
    p = HERE / f"{table}.csv"
    if not p.is_file():
        raise DefectbookError(f"no paper values {table!r}")
    return pd.read_csv(p, comment="#", skipinitialspace=True, dtype=str)


@dataclass
class Cell:
    """One reproduced paper cell: ``table``, ``row`` (label), ``column``, the paper's ``value`` (scaled),
    the ``selector`` of our records, ``category`` (None: averaged over the chapter's categories; ``mean``
    cells: over the categories found), ``metric``, ``split`` / ``params`` added by the row's fields."""

    table: str
    row: str
    column: str
    value: float
    metric: str
    category: str | None
    mean: bool
    selector: dict
    extra_split: dict = field(default_factory=dict)
    extra_params: dict = field(default_factory=dict)
    not_comparable: str | None = None
    categories: tuple = ()          # a mean cell: the paper's categories it averages over

    @property
    def paper(self) -> str:
        return PAPERS[self.table.split("_")[0]]

    @property
    def chapter(self) -> str:
        return mapping()[self.table]["chapter"]

    @property
    def page(self) -> str:
        """The page (``group/notebook``) that shows this cell: the row's ``page``, else the table's."""
        return self.selector.get("page") or mapping()[self.table]["page"]


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def cells(tables=None) -> tuple[list[Cell], list[dict]]:
    """The reproduced cells of ``tables`` (None: all) and the quoted rows (``{table, row, why}``).

    Raises :class:`DefectbookError` for a CSV row without a declaration (a new row must say how it is
    reproduced, or that it is quoted)."""
    M = mapping()
    out, quoted = [], []
    for table in tables or sorted(M):
        d = M[table]
        df = raw(table)
        scale = float(d.get("scale", 0.01))
        skip = set(d.get("skip_columns", []))
        label = d["label"]
        catcol = d.get("category")
        means = set(d.get("mean_columns", []))
        metrics = d.get("metrics")
        rows = {str(k): v for k, v in d["rows"].items()}
        if label == "column":
            value_cols = [c for c in df.columns if c not in skip and c != catcol]
            units = [(c, i, c) for i in df.index for c in value_cols]        # the column is the row label
        else:
            value_cols = [c for c in df.columns if c not in skip and c != label and c != catcol
                          and c != d.get("split_field") and c not in d.get("param_field", {})]
            if metrics:
                value_cols = [c for c in value_cols if c in metrics]
            units = [(str(r[label]), i, c) for i, r in df.iterrows() for c in value_cols]
        for lab, i, col in units:
            if lab not in rows:
                raise DefectbookError(f"{table}: row {lab!r} has no declaration in reproductions.yaml "
                                      f"(give it a selector or `quoted: why`)")
            sel = rows[lab]
            if "quoted" in sel:
                q = {"table": table, "row": lab, "why": sel["quoted"]}
                if q not in quoted:
                    quoted.append(q)
                continue
            r = df.loc[i]
            value = _num(r[col])
            if math.isnan(value):          # the paper prints no value ("-")
                continue
            if catcol == "column":
                category, metric = col, d["metric"]
            elif catcol:
                category, metric = str(r[catcol]), d.get("metric") or metrics[col]
            else:
                category, metric = None, d.get("metric") or metrics[col]
            split = {}
            if d.get("split_field"):
                split = {"kind": "noisy", "ratio": _num(r[d["split_field"]]) * 0.01}
            params = {p: _num(r[c]) * scale for c, p in d.get("param_field", {}).items()}
            cats = ([c for c in value_cols if c not in means] if catcol == "column" else
                    [c for c in df[catcol].astype(str).unique() if c not in means] if catcol else [])
            out.append(Cell(table, lab, col, value * scale, metric, None if category in means else category,
                            category in means, sel, split, params, d.get("not_comparable", {}).get(col), tuple(cats)))
    return out, quoted


# --- finding our records ----------------------------------------------------------------------------

def _resolve(v, grids: dict):
    """``"$grid:name[:i]"`` -> the chapter's grid value (its i-th item)."""
    if isinstance(v, str) and v.startswith("$grid:"):
        parts = v.split(":")[1:]
        if parts[0] not in grids:
            raise DefectbookError(f"reproductions.yaml names grid {parts[0]!r}, which the profile lacks")
        g = grids[parts[0]]
        return g[int(parts[1])] if len(parts) > 1 else g
    if isinstance(v, dict):
        return {k: _resolve(x, grids) for k, x in v.items()}
    return v


def selector_params(sel: dict, grids: dict) -> dict:
    """The params a selector requires (its ``ablation`` switches, then ``params``), grids resolved."""
    out = {}
    if sel.get("ablation"):
        module, name, *key = sel["ablation"].split(":", 2)
        table = getattr(importlib.import_module(module), name)
        out.update(table[_resolve(key[0], grids)] if key else table[sel["_row"]])
    out.update(_resolve(sel.get("params", {}), grids))
    return out


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) | isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def matches(config: dict, sel: dict, want_params: dict, want_split: dict, transform) -> bool:
    """Whether a record's ``config`` is the selector's: same method, every wanted param and split key
    equal, the same transform (when named), and no other param changed against the profile."""
    if config.get("method") != sel["method"]:
        return False
    p = config.get("params") or {}
    if any(k not in p or not _same(p[k], v) for k, v in want_params.items()):
        return False
    split = config.get("split") or {"kind": "clean"}
    want_split = want_split or {"kind": "clean"}
    if any(not _same(split.get(k), v) for k, v in want_split.items()):
        return False
    got = config.get("transform") or {}
    if transform is None:      # unnamed: the profile's own (a Table 4 image-size record is no Table 1 record)
        transform = _profile_transform(config.get("profile") or "cpu", (config.get("spec") or {}).get("chapter"),
                                       config["method"], config["dataset"], config.get("category"))
    if transform is not None and any(not _same(got.get(k), v) for k, v in transform.items()):
        return False
    return _changed(config) <= set(want_params)


_CHANGED: dict = {}


def _changed(config: dict) -> set:
    """Names of the params ``config`` changes against its profile (memoised per config)."""
    k = json.dumps(config, sort_keys=True, default=str)
    if k not in _CHANGED:
        _CHANGED[k] = set(differences(config))
    return _CHANGED[k]


@lru_cache(maxsize=None)
def _profile_transform(profile: str, chapter: str | None, method: str, dataset: str, category: str | None):
    """The image transform :func:`defectbook.pipeline.spec.make_config` gives this method there (None: unknown)."""
    try:
        return make_config(profile, chapter or default_chapter(method), method, dataset, category)["transform"]
    except DefectbookError:
        return None


def load_records(store=None, profile: str | None = None, dry_run: bool | None = None) -> list:
    """Every record of ``store`` (default: the results folder) of ``profile`` and the dry-run mode
    (None: this process's), whose key is what this code would compute for its config (a record left
    by an older version or generator is not this build's)."""
    store = store or Store()
    dry = _dry() if dry_run is None else dry_run
    out, fingerprints = [], {}   # one file listing per split, not per record (0.2 s each on MTD)
    for k in store.keys():
        r = store.get(k)
        if r is None or (profile and r.config.get("profile") != profile) or bool(r.config.get("dry_run")) != dry:
            continue
        try:
            if key_of(r.config, fingerprints) != r.key:
                continue
        except Exception:  # noqa: BLE001 - a record whose data is gone is not this build's
            continue
        out.append(r)
    return out


def _value(r, metric: str, score: str | None) -> float:
    if metric == "ms_per_image":
        if r.timings.get("predict_images_per_s"):
            return 1000.0 / float(r.timings["predict_images_per_s"])
        t, n = r.timings.get("predict_s"), len(r.labels or [])
        return float(t) * 1000 / n if t is not None and n else float("nan")
    if score:
        ex = r.extras.get("mse_scores_by_pooling" if score.startswith("mse_") else "scores_by_pooling") or {}
        s = ex.get(score.removeprefix("mse_"))
        return float(image_auroc(r.labels, s)) if s is not None else float("nan")
    v = r.metrics.get(metric)
    return float(v) if v is not None else float("nan")


def _pick_dataset(recs: list, paper_data: str, primary: str | None, data_only: bool = False) -> list:
    """The records on the paper's dataset if any, else (unless ``data_only``: a table of a real dataset
    that no stand-in replaces, MTD or DAGM) on the profile's primary dataset (the synthetic stand-in for
    MVTec AD); never another real dataset (an MTD record is no MVTec AD cell)."""
    for ds in (paper_data,) if data_only else (paper_data, primary):
        on = [r for r in recs if r.config["dataset"] == ds]
        if on:
            return on
    return []


def _capped(params: dict) -> dict:
    """In the dry run, the params as :func:`defectbook.pipeline.spec.make_config` caps them (``DRY_RUN``)."""
    if not dry_run():
        return params
    caps = DRY_RUN["params"]
    return {k: min(v, caps[k]) if k in caps and isinstance(v, (int, float)) and not isinstance(v, bool) else v
            for k, v in params.items()}


_INDEX: dict = {}


def _by_method(records: list) -> dict:
    """``method -> records`` (kept for the last list of records seen)."""
    if _INDEX.get("id") != id(records) or _INDEX.get("n") != len(records):
        idx: dict = {}
        for r in records:
            idx.setdefault(r.config.get("method"), []).append(r)
        _INDEX.update(id=id(records), n=len(records), index=idx, ref=records)   # ref: the id stays unique
    return _INDEX["index"]


def _home(method: str) -> str | None:
    try:
        return default_chapter(method)
    except DefectbookError:
        return None


@lru_cache(maxsize=None)
def _synthetic_json(profile: str, chapter: str) -> str:
    return json.dumps(synthetic_data(load(profile), chapter))


def _synthetic(profile: str, chapter: str) -> dict:
    """The chapter's synthetic generator settings in ``profile``."""
    return json.loads(_synthetic_json(profile, chapter))


def _one_per_run(recs: list, chapter: str, profile: str) -> list:
    """One record per (dataset, category, seed): the cell's chapter's own (its notebook's data: a
    compared method run on the chapter's synthetic data) before one of the method's home chapter."""
    own = _synthetic(profile, chapter)

    def rank(r):
        c = r.config
        return (0 if (c.get("spec") or {}).get("chapter") == chapter else
                1 if c["dataset"] != "synthetic" or c.get("data") == own else 2)

    ranked = sorted(recs, key=rank)
    if ranked and rank(ranked[0]) < 2:      # never mix another chapter's synthetic images into the chapter's
        ranked = [r for r in ranked if rank(r) < 2]
    best: dict = {}
    for r in ranked:
        best.setdefault((r.config["dataset"], r.config.get("category"), r.config.get("seed")), r)
    return list(best.values())


def ours(cell: Cell, records: list, profile: str, primary: str | None = None, grids: dict | None = None) -> dict:
    """Our value of ``cell``: per-seed values (mean over categories for a mean cell or a cell without
    category), the records used, dataset and categories."""
    tol = tolerances().loc[cell.table]
    sel = dict(cell.selector, _row=cell.row)
    if grids is None:
        grids = _chapter(cell.chapter, profile).grids
    want = _capped({**selector_params(sel, grids), **cell.extra_params})
    transform = _resolve(sel.get("transform"), grids)
    split = {**_resolve(sel.get("split", {}), grids), **cell.extra_split}
    if split.get("kind") == "noisy":
        split["fixed_test"] = True
    if split.get("kind") == "few_shot":
        if dry_run():
            split["n"] = min(int(split["n"]), DRY_RUN["max_train"])

    def find(s, w):
        homes = {cell.chapter, _home(s["method"])}   # a compared method's records carry its own chapter
        rs = [r for r in _by_method(records).get(s["method"], [])
              if (r.config.get("spec") or {}).get("chapter") in homes and matches(r.config, s, w, split, transform)]
        if cell.category is not None:
            rs = [r for r in rs if str(r.config.get("category")) == cell.category]
        rs = _pick_dataset(rs, str(tol.paper_data), primary, bool(mapping()[cell.table].get("data_only")))
        if cell.mean and any(r.config["dataset"] == tol.paper_data for r in rs):   # the paper's categories only
            rs = [r for r in rs if str(r.config.get("category")) in cell.categories]
        return _one_per_run(rs, cell.chapter, profile)

    recs = find(sel, want)
    if "baseline" in sel and recs:
        base = find(sel["baseline"], _capped(selector_params(sel["baseline"], grids)))
        bmap = {(r.config.get("dataset"), r.config.get("category"), r.config.get("seed")): r for r in base}
        pairs = [(r, bmap.get((r.config.get("dataset"), r.config.get("category"), r.config.get("seed")))) for r in recs]
        per = pd.DataFrame([{"seed": r.config["seed"], "cat": r.config.get("category"),
                             "v": _value(r, cell.metric, sel.get("score")) - _value(b, cell.metric, sel.get("score"))}
                            for r, b in pairs if b is not None])
        used = [x for p in pairs if p[1] is not None for x in p]
    else:
        per = pd.DataFrame([{"seed": r.config["seed"], "cat": r.config.get("category"),
                             "v": _value(r, cell.metric, sel.get("score"))} for r in recs])
        used = recs
    if per.empty:
        return {"records": [], "per_seed": {}, "dataset": None, "categories": []}
    per_seed = per.groupby("seed")["v"].mean().to_dict()
    return {"records": used, "per_seed": per_seed, "dataset": used[0].config["dataset"],
            "categories": sorted({str(c) for c in per["cat"]})}


# --- verdicts ---------------------------------------------------------------------------------------

def verdict_of(paper: float, values, tolerance: float, noise_k: float, comparable: str | None = None,
               caveat: str | None = None) -> dict:
    """The word for one cell from our per-seed ``values`` (see the module docstring).

    ``comparable``: None when our data are the paper's, else why they are not (*not comparable*);
    ``caveat``: why our setting is the paper's but for the backbone or the scale (:data:`TIER`, with the
    comparison's outcome in ``why``). Returns ``{verdict, ours, diff, sd, n, low, high, why}``."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if len(x) == 0:
        return {"verdict": "not computed", "ours": float("nan"), "diff": float("nan"), "sd": float("nan"),
                "n": 0, "low": float("nan"), "high": float("nan"), "why": "no record of its page in this build"}
    iv = interval(x)
    m = float(x.mean())
    sd = float(x.std(ddof=1)) if len(x) > 1 else float("nan")
    d = m - paper
    out = {"ours": m, "diff": d, "sd": sd, "n": len(x), "low": iv["low"], "high": iv["high"]}
    if comparable:
        return {**out, "verdict": "not comparable", "why": comparable}
    if abs(d) <= tolerance + 1e-12:
        word, why = "value matches", f"|Δ| ≤ {tolerance:g}"
    elif len(x) > 1 and abs(d) <= tolerance + noise_k * sd + 1e-12:
        word, why = "value matches", f"|Δ| ≤ {tolerance:g} + {noise_k:g} sd (within noise)"
    else:
        word, why = "value differs", f"|Δ| > {tolerance:g}" + (f" + {noise_k:g} sd" if len(x) > 1 else
                                                                " (one seed: no spread)")
    if caveat:
        return {**out, "verdict": TIER, "why": f"{caveat}; {why}"}
    return {**out, "verdict": word, "why": why}


def comparability(cell: Cell, found: dict, profile: str) -> tuple[str | None, str | None]:
    """``(not comparable, caveat)``: why our records of ``cell`` cannot be set against the paper's value
    (None: they can), and, when they can, why they still differ from the paper's setting in backbone or
    scale (None: they do not; :data:`TIER`)."""
    tol = tolerances().loc[cell.table]
    recs = found["records"]
    if cell.not_comparable:
        return cell.not_comparable, None
    if any(r.config.get("dry_run") for r in recs):
        return "dry run (random weights, a few images)", None
    if profile == "smoke":
        return "smoke profile (tiny data and models)", None
    if found["dataset"] != tol.paper_data:
        return f"different data ({found['dataset']} vs {tol.paper_data})", None
    if (cell.mean or cell.category is None) and int(tol.paper_categories) and \
            len(found["categories"]) != int(tol.paper_categories):
        return f"mean over {len(found['categories'])} categories, the paper's over {int(tol.paper_categories)}", None
    caveats = []
    bb = str(tol.paper_backbone)
    if bb:
        ours_bb = sorted({str((r.config.get("params") or {}).get("backbone")) for r in recs
                          if (r.config.get("params") or {}).get("backbone")})
        if ours_bb and ours_bb != [bb]:
            caveats.append(f"backbone {', '.join(ours_bb)}, the paper's {bb}")
    if profile != "paper":
        caveats.append(f"{profile} profile (smaller images, fewer epochs than the paper's)")
    return None, "; ".join(caveats) or None


def _short(keys) -> str:
    """Record keys as a cell of the report: up to three, then how many more."""
    keys = sorted(keys)
    return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "") if keys else "—"


def judge(profile: str, store=None, records: list | None = None, tables=None,
          shown: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The report: one row per reproduced cell (paper, table, row, column, category, metric, paper
    value, ours, Δ, sd over seeds, seeds, interval, data, tolerance, verdict, why, page, and the keys of
    the records used), and the quoted rows.

    ``shown``: ``page -> keys`` of the records each page showed (None: what this profile's pages left,
    :func:`defectbook.book.report.load_shown`); a cell takes only records its own page showed."""
    if records is None:
        records = load_records(store, profile)
    if shown is None:
        shown = load_shown(profile, dry_run())
    primary = load(profile)["data"]["dataset"]
    cs, quoted = cells(tables)
    grids, on_page = {}, {}
    rows = []
    for c in cs:
        if c.chapter not in grids:
            grids[c.chapter] = _chapter(c.chapter, profile).grids
        if c.page not in on_page:
            keys = shown.get(c.page) or set()
            on_page[c.page] = [r for r in records if r.key in keys]
        tol = tolerances().loc[c.table]
        found = ours(c, on_page[c.page], profile, primary, grids[c.chapter])
        values = list(found["per_seed"].values())
        not_comparable, caveat = comparability(c, found, profile) if values else (None, None)
        v = verdict_of(c.value, values, float(tol.tolerance), float(tol.noise_k), not_comparable, caveat)
        if not values and c.page not in shown:
            v["why"] = "its page did not run in this build"
        rows.append({"paper": c.paper, "table": c.table, "row": c.row, "column": c.column,
                     "category": c.category or ("mean" if c.mean else "—"), "metric": c.metric,
                     "paper value": c.value, "ours": v["ours"], "Δ": v["diff"], "sd (seeds)": v["sd"],
                     "seeds": ", ".join(str(s) for s in sorted(found["per_seed"])) or "—",
                     "interval": (f"{v['low']:.3f} to {v['high']:.3f}" if not math.isnan(v["low"]) else "—"),
                     "data": _data_text(c, found),
                     "tolerance": float(tol.tolerance), "verdict": v["verdict"], "why": v["why"], "page": c.page,
                     "records": sorted({r.key for r in found["records"]})})
    return pd.DataFrame(rows), pd.DataFrame(quoted, columns=["table", "row", "why"])


def view(report: pd.DataFrame) -> pd.DataFrame:
    """The report's computed cells as a page shows them: the cell (table, row, column, category in one),
    paper value, ours, Δ, seeds, the word and why, the page (a link) and the records quoted."""
    part = report[report["verdict"] != "not computed"]
    return pd.DataFrame({
        "cell": [f"{t.split('_', 1)[1].replace('_', ' ')} · {r} · {c}" + (f" · {k}" if k not in ("—", c) else "")
                 for t, r, c, k in zip(part["table"], part["row"], part["column"], part["category"])],
        "paper value": part["paper value"], "ours": part["ours"], "Δ": part["Δ"], "seeds": part["seeds"],
        "word": part["verdict"], "why": part["why"],
        "page": [page_link(p, p.split("/")[1]) for p in part["page"]],
        "records": [_short(k) for k in part["records"]]})


def _data_text(cell: Cell, found: dict) -> str:
    """``mtd``, ``synthetic`` or ``mvtec (5 categories)`` (a mean or a row without category)."""
    if not found["dataset"]:
        return "—"
    n = len(found["categories"])
    if cell.category is not None or found["categories"] == ["None"]:
        return str(found["dataset"])
    return f"{found['dataset']} ({n} categor{'y' if n == 1 else 'ies'})"


def counts(report: pd.DataFrame) -> pd.DataFrame:
    """Verdict counts per paper (rows: papers; columns: :data:`VERDICTS`; a ``total`` column)."""
    t = pd.crosstab(report["paper"], report["verdict"]) if len(report) else pd.DataFrame()
    t = t.reindex(index=[p for p in PAPERS.values() if p in t.index] if len(t) else [], columns=list(VERDICTS),
                  fill_value=0)
    t["total"] = t.sum(axis=1)
    return t.rename_axis(index="paper", columns=None)


def missing(report: pd.DataFrame) -> pd.DataFrame:
    """The cells not computed in this build, grouped: one row per (paper, table, row) with the columns
    (categories or metrics) that have no record, and how many."""
    m = report[report["verdict"] == "not computed"]
    if m.empty:
        return pd.DataFrame(columns=["paper", "table", "row", "cells", "columns"])
    g = m.groupby(["paper", "table", "row"], sort=False)["column"]
    out = g.agg(cells="size", columns=lambda c: ", ".join(dict.fromkeys(map(str, c)))).reset_index()
    return out


def spread(report: pd.DataFrame) -> pd.DataFrame:
    """Seed-to-seed spread per paper: cells with two seeds or more, and the median and largest
    standard deviation of our value over seeds among them."""
    r = report[report["sd (seeds)"].notna()]
    rows = []
    for p in [p for p in PAPERS.values() if p in set(report["paper"])]:
        s = r.loc[r["paper"] == p, "sd (seeds)"]
        rows.append({"paper": p, "cells with ≥ 2 seeds": len(s),
                     "median sd": float(s.median()) if len(s) else float("nan"),
                     "largest sd": float(s.max()) if len(s) else float("nan")})
    return pd.DataFrame(rows)
