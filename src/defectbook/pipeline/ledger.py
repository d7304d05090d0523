"""The build ledger: one JSON line per experiment or picture model of a batch's notebook kernels.

``defectbook reproduce`` names the ledger (``DEFECTBOOK_LEDGER``) and each kernel's notebook
(``DEFECTBOOK_NOTEBOOK``); :mod:`defectbook.pipeline.run` appends the lines here and
:mod:`defectbook.book.buildreport` reads and aggregates them into the build report. One
``os.write`` per line on an ``O_APPEND`` descriptor: lines from several processes never interleave."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .. import settings

LEDGER_ENV, NOTEBOOK_ENV, REUSE_ENV = "DEFECTBOOK_LEDGER", "DEFECTBOOK_NOTEBOOK", "DEFECTBOOK_REUSE_MODELS"


def append(entry: dict, path: str | os.PathLike | None = None) -> bool:
    """Append ``entry`` (with the notebook and time) as one line to the ledger; False when there is none."""
    path = path or settings.get(LEDGER_ENV)
    if not path:
        return False
    entry = {"notebook": settings.get(NOTEBOOK_ENV) or None, "time": round(time.time(), 3), "pid": os.getpid(),
             **entry}
    line = (json.dumps(entry, default=str, separators=(",", ":")) + "\n").encode()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return True


#: the phases of a record's ``timings`` that a ledger line carries
PHASE_KEYS = ("data_s", "fit_s", "predict_s", "features_fit_s", "features_predict_s")


def worker_phases(record) -> dict:
    """The phase seconds a record's own ``timings`` hold: where a cluster's worker computed it, the time it
    spent there (the notebook's process spent none of it)."""
    return {k: float(record.timings[k]) for k in PHASE_KEYS if (record.timings or {}).get(k) is not None}


def experiment_entry(record, status: str, seconds: float, phases: dict | None = None) -> dict:
    """A ledger line of one experiment: ``status`` computed / reused; ``phases`` the seconds spent on it
    (here, or on a cluster's worker: the line then says ``"where": "cluster"``)."""
    c = record.config
    return {"kind": "experiment", "key": record.key, "method": c.get("method"),
            "data": f"{c.get('dataset')}:{c.get('category') or ''}", "device": record.extras.get("device"),
            "status": status, "seconds": round(seconds, 3),
            "phases": {k: round(v, 3) for k, v in (phases or {}).items()}}
