"""The build report: where a batch's time goes, notebook by notebook and phase by phase.

How the numbers are gathered:

* every experiment (:func:`defectbook.pipeline.run.run`, ``run_many``) and every picture model
  (:func:`defectbook.pipeline.run.fitted`) of a notebook kernel appends one JSON line to the batch's
  *ledger* (``DEFECTBOOK_LEDGER``, set by ``defectbook reproduce``: ``<cache>/builds/<id>.jsonl``):
  the notebook (``DEFECTBOOK_NOTEBOOK``, set by the first, hidden cell of the executed notebook, so
  notebooks run at once on a cluster are told apart), record key, method, data, device,
  ``computed``/``reused`` (experiments) or ``trained``/``loaded`` (models), and the phase times spent
  in this build (data loading, fit, predict, feature extraction inside fit and predict; a reused record
  spends none). One ``os.write`` per line on an ``O_APPEND`` descriptor: lines from several processes
  never interleave.
* :data:`defectbook.components.clock.clock` accumulates seconds per phase in this process (``clock.add("features", s)``
  in :class:`defectbook.components.backbones.FeatureExtractor`), read before and after each phase by ``run``. On
  CUDA the kernels run asynchronously, so feature extraction there counts the time to queue them
  (fit and predict are the whole phases' wall time either way).
* :func:`write` aggregates the ledger with the notebooks' outcomes into ``build_report.json``
  (beside the executed notebooks; a copy per build under ``<cache>/builds/``) after every notebook, so
  an interrupted batch still has a report, and :func:`write_page` renders it as a book page
  (``build_report.md``: a table per notebook sorted by time, the totals, the provenance and a bar chart
  of time per notebook split by phase).

``DEFECTBOOK_REUSE_MODELS=0`` (``defectbook reproduce --no-model-reuse``) turns the model store off
(:func:`defectbook.settings.model_reuse`): nothing saved, nothing loaded, every picture notebook trains its model again;
the report states which was used, so the two builds' reports give the saving.
"""
from __future__ import annotations

import json
import os
import platform
import time
from collections import defaultdict
from pathlib import Path

#: phases of the chart, in stacking order (seconds spent in this build)
PHASES = ("data_s", "features_s", "fit_s", "predict_s", "model_load_s", "other_s")
PHASE_LABELS = {"data_s": "data loading", "features_s": "feature extraction", "fit_s": "fit (rest)",
                "predict_s": "predict (rest)", "model_load_s": "model loading", "other_s": "other (kernel, plots)"}


def read_ledger(path: str | os.PathLike) -> list[dict]:
    """The ledger's lines (a torn last line of a killed process is skipped)."""
    out = []
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def machine() -> dict:
    """Cores, threads and CPU model of this machine."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable, "torch_threads": torch.get_num_threads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "cuda": torch.cuda.is_available(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "platform": platform.platform()}


def _notebook_rows(outcomes: dict, ledger: list[dict], order: list[str], now: float) -> list[dict]:
    lines = defaultdict(list)
    for e in ledger:
        lines[e.get("notebook")].append(e)
    rows = []
    for name in order:
        o = outcomes.get(name)
        exps = [e for e in lines.get(name, []) if e.get("kind") == "experiment"]
        models = [e for e in lines.get(name, []) if e.get("kind") == "model"]
        if o is None and not lines.get(name) and name not in outcomes.get("__started__", {}):
            continue
        started = outcomes.get("__started__", {}).get(name)
        if o is not None:
            status, seconds, error = o["status"], o["seconds"], o.get("error", "")
        else:
            status, seconds, error = "running", (now - started) if started else 0.0, ""
        ph = {k: 0.0 for k in PHASES}
        methods: dict = {}
        for e in exps + models:
            p = e.get("phases", {})
            feat = p.get("features_fit_s", 0.0) + p.get("features_predict_s", 0.0)
            ph["data_s"] += p.get("data_s", 0.0)
            ph["features_s"] += feat
            ph["fit_s"] += max(0.0, p.get("fit_s", 0.0) - p.get("features_fit_s", 0.0))
            ph["predict_s"] += max(0.0, p.get("predict_s", 0.0) - p.get("features_predict_s", 0.0))
            ph["model_load_s"] += p.get("model_load_s", 0.0)
            m = methods.setdefault(e.get("method"), {"method": e.get("method"), "configs": 0, "computed": 0,
                                                     "reused": 0, "trained": 0, "loaded": 0, "data_s": 0.0,
                                                     "features_s": 0.0, "fit_s": 0.0, "predict_s": 0.0,
                                                     "model_load_s": 0.0})
            if e.get("kind") == "experiment":
                m["configs"] += 1
            m[e.get("status")] = m.get(e.get("status"), 0) + 1
            for k in ("data_s", "fit_s", "predict_s", "model_load_s"):
                m[k] += p.get(k, 0.0)
            m["features_s"] += feat
        spent = sum(v for k, v in ph.items() if k != "other_s")
        ph["other_s"] = max(0.0, seconds - spent)
        rows.append({"notebook": name, "status": status, "seconds": round(seconds, 1), "error": error,
                     "configs": len({e["key"] for e in exps}), "computed": sum(e["status"] == "computed" for e in exps),
                     "reused": sum(e["status"] == "reused" for e in exps),
                     "models_trained": sum(e["status"] == "trained" for e in models),
                     "models_loaded": sum(e["status"] == "loaded" for e in models),
                     "fit_s_saved": round(sum(e.get("fit_s_saved") or 0.0 for e in models if e["status"] == "loaded"),
                                          1),
                     "phases": {k: round(v, 2) for k, v in ph.items()},
                     "methods": [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in m.items()}
                                 for m in sorted(methods.values(), key=lambda m: str(m["method"]))]})
    return rows


def aggregate(build: dict, outcomes: dict, ledger: list[dict], order: list[str], now: float | None = None) -> dict:
    """The report: ``build`` (provenance), one row per notebook (in ``order``), totals, per method."""
    now = time.time() if now is None else now
    rows = _notebook_rows(outcomes, ledger, order, build.get("finished") or now)
    if build.get("state") not in (None, "running"):   # the batch ended: a notebook without an outcome was cut
        for r in rows:
            if r["status"] == "running":
                r["status"], r["error"] = "interrupted", "the batch ended before this notebook finished"
    totals = {k: sum(r[k] for r in rows) for k in ("configs", "computed", "reused", "models_trained", "models_loaded")}
    totals["notebooks_s"] = round(sum(r["seconds"] for r in rows), 1)
    totals["fit_s_saved"] = round(sum(r.get("fit_s_saved", 0.0) for r in rows), 1)
    totals["phases"] = {k: round(sum(r["phases"][k] for r in rows), 1) for k in PHASES}
    totals["ok"] = sum(r["status"] == "ok" for r in rows)
    totals["failed"] = sum(r["status"] not in ("ok", "running") for r in rows)
    by_method: dict = {}
    for r in rows:
        for m in r["methods"]:
            t = by_method.setdefault(m["method"], {k: 0 for k in m} | {"method": m["method"]})
            for k, v in m.items():
                if k != "method":
                    t[k] += v
    wall = (build.get("finished") or now) - build["started"]
    return {"build": build | {"wall_s": round(wall, 1)}, "notebooks": rows, "totals": totals,
            "methods": [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in m.items()}
                        for m in sorted(by_method.values(),
                                        key=lambda m: -(m["fit_s"] + m["predict_s"] + m["data_s"]))]}


def previous(archive_dir: Path, build: dict) -> dict | None:
    """The latest earlier report in ``archive_dir`` (the store's ``builds`` folder) of the same profile
    and dry-run flag: ``{"id", "commit", "started", "seconds": {notebook: seconds of an ok run}}``, or None."""
    best = None
    for f in Path(archive_dir).glob("*.json"):
        try:
            rep = json.loads(f.read_text())
            b = rep["build"]
            rows = rep["notebooks"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # unreadable or another kind of file: not a previous build
        if (b.get("id") == build.get("id") or b.get("profile") != build.get("profile")
                or bool(b.get("dry_run")) != bool(build.get("dry_run"))
                or not b.get("started", 0) < build.get("started", 0)):
            continue
        seconds = {r["notebook"]: r["seconds"] for r in rows if r.get("status") == "ok"}
        if seconds and (best is None or b["started"] > best["started"]):
            best = {"id": b.get("id"), "commit": b.get("commit"), "started": b["started"], "seconds": seconds}
    return best


def with_previous(report: dict, before: dict | None) -> dict:
    """``report`` with ``previous`` (see :func:`previous`) and each notebook's ``previous_s`` (None where the
    previous build has no ok run of it)."""
    rows = [r | {"previous_s": (before or {}).get("seconds", {}).get(r["notebook"])} for r in report["notebooks"]]
    return report | {"notebooks": rows,
                     "previous": None if before is None else {k: v for k, v in before.items() if k != "seconds"}}


def write(report: dict, out_dir: Path, archive: Path | None = None, before: dict | None = None) -> Path:
    """``out_dir/build_report.json`` (atomically; and a copy in ``archive``), then the page beside it, compared
    with ``before``, the previous build (:func:`previous`, which a batch looks up once; None: none)."""
    report = with_previous(report, before)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=1, default=str)
    path = out_dir / "build_report.json"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    if archive is not None:
        archive.parent.mkdir(parents=True, exist_ok=True)
        archive.write_text(text)
    write_page(out_dir)
    return path


def _fmt_s(s: float) -> str:
    return f"{s:.0f} s ({s / 60:.1f} min)" if s >= 60 else f"{s:.1f} s"


def write_page(out_dir: Path) -> Path:
    """``out_dir/build_report.md`` (and its chart ``build_report.png``) from ``build_report.json``; without
    one, a page built from the executed notebooks' own papermill durations (a batch run other than
    ``defectbook reproduce``, e.g. the tests' smoke book)."""
    out_dir = Path(out_dir)
    page = out_dir / "build_report.md"
    src = out_dir / "build_report.json"
    if src.is_file():
        report = json.loads(src.read_text())
        text = _page_from_report(report, out_dir)
    else:
        text = _page_from_notebooks(out_dir)
    page.write_text(text)
    return page


HEAD = "# How long the build takes\n\n"


def _provenance(b: dict) -> str:
    m = b.get("machine", {})
    dev = ", ".join(b.get("devices") or []) or ("cuda" if m.get("cuda") else "cpu")
    commit = b.get("commit") or "unknown"
    if b.get("dirty"):
        commit += " (with uncommitted changes)"
    only = f"; notebooks matching {', '.join(f'`{g}`' for g in b['only'])}" if b.get("only") else "; every notebook"
    return (f"**Provenance:** build `{b['id']}`, profile `{b['profile']}`{only}; started "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(b['started']))}; machine: {m.get('cpu')}, "
            f"{m.get('usable_cores')} usable of {m.get('cores')} cores, "
            + (f"{b.get('worker_threads') or 'unknown'} torch thread(s) per Dask worker (the batch's own process: "
               f"{m.get('torch_threads')})" if b.get("cluster") else
               f"{m.get('torch_threads')} torch threads per process (OMP_NUM_THREADS={m.get('omp_num_threads')})")
            + f"{', GPU ' + m['gpu'] if m.get('gpu') else ''}; "
            f"device {dev}; "
            f"{'a Dask cluster (' + str(b['cluster']) + ')' if b.get('cluster') else 'notebooks one after another'}; "
            f"model reuse {'on' if b.get('model_reuse', True) else 'off (`--no-model-reuse`)'}; commit {commit}; "
            f"defectbook {b.get('version')}.")


def _page_from_report(report: dict, out_dir: Path) -> str:
    b, t, rows = report["build"], report["totals"], report["notebooks"]
    state = {"done": "finished", "running": "still running (this report is updated after every notebook)",
             "interrupted": "interrupted (the report covers what ran)"}.get(b.get("state"), b.get("state"))
    text = HEAD
    text += ("Written by `defectbook reproduce` at the end of every batch (and after each notebook); the "
             "numbers below are the latest batch's, from `build_report.json` beside the executed notebooks. "
             "An experiment is *computed* when its record was not in the store, *reused* otherwise; a picture "
             "model is *trained* or *loaded* from the model store. *Configs* counts a notebook's distinct experiment "
             "configs, *computed* and *reused* its calls (a notebook may ask for a record twice). Phase times are "
             "those spent in this build"
             + ("; on a Dask cluster, an experiment's phases are its time on a worker, and several workers (and "
                "notebooks) run at once: a notebook's phases may add up to more than its wall time, and *other* is "
                "then what its wall time leaves, if anything.\n\n" if b.get("cluster") else ".\n\n"))
    text += (
        f"The batch {state}: **{_fmt_s(b['wall_s'])}** of wall time for {len(rows)} notebook(s) "
        f"({t['ok']} ok, {t['failed']} failed); {t['configs']} experiment configs, {t['computed']} computed "
        f"and {t['reused']} reused from the store; {t['models_trained']} picture models trained and "
        f"{t['models_loaded']} loaded"
        + (
            f" (loading them instead of training saved about **{_fmt_s(t['fit_s_saved'])}**: the fit time "
            "recorded when each was trained)"
            if t.get("fit_s_saved")
            else ""
        )
        + "."
        + (
            f" The notebooks' kernels used {_fmt_s(b['kernels_cpu_s'])} of CPU time in all (against the wall "
            "time: how much the batch waited, e.g. on a machine shared with other work)."
            if b.get("kernels_cpu_s") is not None
            else ""
        )
        + "\n\n"
    )
    text += _provenance(b) + "\n\n"
    if rows:
        img = _chart(rows, out_dir)
        if img:
            text += f"```{{figure}} {img.name}\n:name: build-report-chart\n\nTime per notebook, split by phase " \
                    "(feature extraction is counted apart from the fit and predict it belongs to; *other*: kernel " \
                    "start, store reads, plotting and tables).\n```\n\n"
    prev = report.get("previous")
    text += ("## Notebooks, slowest first\n\n*computed / reused*: experiment records; *models*: picture models "
             "trained / loaded; *fit* and *predict*: less their feature extraction; *change*: against the previous "
             + (f"build of this profile in the store (`{prev['id']}`, commit {prev.get('commit') or 'unknown'}, "
                f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(prev['started']))}), slower (+) or faster (-); "
                "a notebook whose records or models that build computed and this one reused is faster for it."
                if prev else "build of this profile in the store (none found).")
             + "\n\n")
    text += "| notebook | status | time (s) | change | configs | computed / reused | models | data (s) | " \
            "features (s) | fit (s) | predict (s) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    for r in sorted(rows, key=lambda r: -r["seconds"]):
        p = r["phases"]
        text += (f"| {r['notebook']} | {r['status']} | {r['seconds']:.1f} | {_change(r)} | {r['configs']} | "
                 f"{r['computed']} / "
                 f"{r['reused']} | {r['models_trained']} / {r['models_loaded']} | {p['data_s']:.1f} | "
                 f"{p['features_s']:.1f} | {p['fit_s']:.1f} | {p['predict_s']:.1f} |\n")
    text += (f"| **all** | | **{t['notebooks_s']:.1f}** | | {t['configs']} | {t['computed']} / {t['reused']} | "
             f"{t['models_trained']} / {t['models_loaded']} | {t['phases']['data_s']:.1f} | "
             f"{t['phases']['features_s']:.1f} | {t['phases']['fit_s']:.1f} | {t['phases']['predict_s']:.1f} |\n\n")
    ms = [m for m in report.get("methods", []) if m["method"]]
    if ms:
        text += "## Methods\n\nSeconds spent in this build per method, over every notebook (fit and predict include " \
                "their feature extraction).\n\n| method | configs | computed / reused | models trained / loaded " \
                "| data (s) | features (s) | fit (s) | predict (s) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n"
        for m in ms:
            text += (f"| {m['method']} | {m['configs']} | {m['computed']} / {m['reused']} | {m['trained']} / "
                     f"{m['loaded']} | {m['data_s']:.1f} | {m['features_s']:.1f} | {m['fit_s']:.1f} | "
                     f"{m['predict_s']:.1f} |\n")
        text += "\n"
    failed = [r for r in rows if r["error"]]
    if failed:
        text += "## Failures\n\n" + "".join(f"- `{r['notebook']}`: {r['error']}\n" for r in failed) + "\n"
    return text


def _change(row: dict) -> str:
    """``+12.0 s (1.25x)``: this run against the previous build's ok run of the notebook; blank without one."""
    before = row.get("previous_s")
    if not before or row["status"] != "ok":
        return ""
    d = row["seconds"] - before
    return f"{d:+.1f} s ({row['seconds'] / before:.2f}x)"


def _chart(rows: list[dict], out_dir: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["seconds"])
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(rows) + 1.8))
    left = [0.0] * len(rows)
    for k in PHASES:
        vals = [r["phases"][k] for r in rows]
        ax.barh([r["notebook"] for r in rows], vals, left=left, label=PHASE_LABELS[k])
        left = [a + b for a, b in zip(left, vals)]
    ax.set_xlabel("seconds")
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    path = out_dir / "build_report.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _page_from_notebooks(out_dir: Path) -> str:
    import nbformat

    rows = []
    for p in sorted(Path(out_dir).glob("*/*.ipynb")):
        if p.name.endswith(".failed.ipynb") or p.name.startswith("."):
            continue
        try:
            meta = nbformat.read(p, as_version=4).metadata
        except Exception:  # noqa: BLE001 - unreadable: not in the table
            continue
        d = meta.get("papermill", {}).get("duration")
        status = meta.get("defectbook", {}).get("status") or ("ok" if d is not None else "not executed")
        rows.append((f"{p.parent.name}/{p.stem}", status, d))
    text = HEAD + ("No build report yet: these notebooks were not executed by `defectbook reproduce` (which writes "
                   "`build_report.json` with every notebook's experiments, reuse and phase times). The times below are "
                   "the executed notebooks' own (papermill's) durations.\n\n")
    text += "| notebook | status | time (s) |\n|---|---|---:|\n"
    for name, status, d in sorted(rows, key=lambda r: -(r[2] or 0)):
        text += f"| {name} | {status} | {'' if d is None else f'{d:.1f}'} |\n"
    if not rows:
        text += "| (none executed) | | |\n"
    return text + "\n"
