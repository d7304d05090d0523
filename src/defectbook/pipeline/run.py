"""The experiment runner: the one way notebooks get numbers.

``run(config)`` loads the data split, builds the detector from the registry, fits, predicts,
evaluates and stores a :class:`~defectbook.pipeline.store.Record`; a record that already exists for the
same config (hash) is returned without recomputation. A config is a plain dict::

    {"method": "padim", "params": {"d": 100},
     "dataset": "synthetic", "category": "weave", "data": {"size": 128, "n_train": 60},
     "split": {"kind": "clean"},           # or {"kind": "noisy", "ratio": 0.1} / {"kind": "few_shot", "n": 16}
     "transform": {"resize": 128, "crop": 112},
     "seed": 0, "profile": "cpu", "save_maps": 8}

``split`` may also cap the sizes (``max_train``, ``max_test``: seeded subsets) for the smoke
profile. ``data_root`` (where real data lies), ``profile``, ``device`` and ``spec`` (the chapter
the config was built from) are recorded but not hashed. Configs are built by
:func:`defectbook.pipeline.spec.make_config`.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Iterable

import numpy as np
import pandas as pd
import torch

from .. import DefectbookError, settings
from ..components.clock import clock
from ..components.features import FEATURES
from ..config import normalize
from ..data.prepare import prepare
from ..evaluation.metrics import evaluate
from ..utils import progress, seed_everything, setup_logging
from . import context
from .keys import NOT_HASHED, key_of
from .ledger import append, experiment_entry, worker_phases
from .models import build_detector, device_of, keep_model, load_model, model_path
from .provenance import PeakMemory, _data_provenance, _describe, environment
from .store import Record, Store, encode_maps

log = logging.getLogger("defectbook")
if settings.get("DEFECTBOOK_LOG"):             # a notebook kernel of a batch: log lines to the batch's file
    setup_logging(stderr=False)


def _cluster():
    """The cluster executor (:data:`context.cluster`, installed by :mod:`defectbook.pipeline.executors`)
    when a scheduler is configured (``DEFECTBOOK_SCHEDULER``), else None: run here, serially."""
    if settings.scheduler() is None:
        return None
    if context.cluster is None:
        raise DefectbookError("DEFECTBOOK_SCHEDULER is set but no cluster executor is installed "
                              "(import defectbook.pipeline, which installs defectbook.pipeline.executors)")
    return context.cluster


def _example_indices(labels: np.ndarray, defects: list, k: int) -> list[int]:
    """Up to ``k`` test images for figures: one per defect type, one defect-free, then more defective ones."""
    if k <= 0:
        return []
    order, seen = [], set()
    for i, d in enumerate(defects):
        if labels[i] == 1 and d not in seen:
            seen.add(d)
            order.append(i)
    good = [i for i in range(len(labels)) if labels[i] == 0]
    order += good[:1] + [i for i in range(len(labels)) if labels[i] == 1 and i not in order]
    return order[:k]


def _data_label(c: dict) -> str:
    return f"{c['dataset']}:{c.get('category') or ''}"


def _metrics_text(metrics: dict) -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, (int, float)) and v == v)


def run(config: dict, store: Store | None = None, force: bool = False) -> Record:
    """Run (or reuse) the experiment of ``config`` and return its :class:`Record`.

    The resolved device is recorded (``extras["device"]``); one ``logging`` line per experiment
    (logger ``defectbook``: key, method, data, device, times, metrics); a fitted model small enough
    for :func:`keep_model` is saved for :func:`fitted`. Seconds per phase (data loading, fit, predict,
    feature extraction within each) are recorded in ``timings`` and, with the record's computed/reused
    status, appended to the batch's build ledger (:mod:`defectbook.pipeline.ledger`)."""
    t_start = time.perf_counter()
    c = normalize(config)
    key = key_of(c)
    store = Store() if store is None else store  # (an empty Store is falsy: it has __len__)
    if not force:
        rec = store.get(key)
        if rec is not None:
            rec.config.update({k: c[k] for k in NOT_HASHED if k in c})   # the unhashed fields of this call
            log.info("%s %s on %s: record reused", key, c["method"], _data_label(c))
            if not context.on_worker:
                append(experiment_entry(rec, "reused", time.perf_counter() - t_start))
            return rec
        cluster = _cluster()
        if cluster is not None and not context.on_worker:  # one task per key, wherever it is asked for
            mine: set = set()
            rec = cluster([c], store, desc=key, computed=mine)[0]
            computed = key in mine
            append(experiment_entry(rec, "computed" if computed else "reused", time.perf_counter() - t_start,
                                    worker_phases(rec) if computed else {}) | {"where": "cluster"})
            return rec
    detector = build_detector(c)  # parameters are validated before any image is loaded
    device = device_of(c)
    t_data = time.perf_counter()
    prep = prepare(c)
    t_data = time.perf_counter() - t_data
    log.info("%s %s on %s: fitting on %d images, device %s", key, c["method"], _data_label(c),
             prep.train.shape[0], device)
    if len(set(prep.labels.tolist())) < 2:  # before a fit is spent on it: AUROC needs both classes
        what = "defective" if not prep.labels.any() else "defect-free"
        raise DefectbookError(f"the test set of {c['dataset']}:{c['category'] or ''} has no {what} images; "
                              f"check the data with `defectbook data check`")
    seed_everything(c["seed"])
    with PeakMemory() as mem:
        f0, hits0 = clock.get("features"), FEATURES.hits
        t0 = time.perf_counter()
        detector.fit(prep.train)
        t1 = time.perf_counter()
        f1 = clock.get("features")
        pred = detector.predict(prep.test)
        t2 = time.perf_counter()
        f2 = clock.get("features")
    notes = []
    masks = prep.masks.numpy() if prep.masks is not None else None
    if masks is None:
        notes.append("no pixel ground truth for this split: image-level metrics only")
    if pred.maps is None:
        notes.append(f"{c['method']} gives no anomaly maps: image-level metrics only")
    if not np.isfinite(pred.image_scores).all():
        raise DefectbookError(f"{c['method']} gave NaN or infinite image scores: it diverged (check its parameters, "
                              f"e.g. lr or eps); nothing was stored")
    metrics = evaluate(prep.labels, pred.image_scores, masks, pred.maps)
    extras = detector.extras() if hasattr(detector, "extras") else {}
    split_info = {**_plain(getattr(prep.split, "info", {})), "n_train": int(prep.train.shape[0]),
                  "n_test": int(prep.test.shape[0]), "n_test_defective": int(prep.labels.sum())}
    rec = Record(key=key, config=c, metrics=metrics,
                 timings={"fit_s": round(t1 - t0, 3), "predict_s": round(t2 - t1, 3),
                          "predict_images_per_s": round(prep.test.shape[0] / max(t2 - t1, 1e-9), 2),
                          "data_s": round(t_data, 3), "features_fit_s": round(f1 - f0, 3),
                          "features_predict_s": round(f2 - f1, 3)},
                 memory=mem.as_dict(), scores=[float(s) for s in pred.image_scores],
                 labels=[int(v) for v in prep.labels], defects=list(prep.defects),
                 extras=_plain(extras) | {"split": split_info, "backbone": _describe(detector),
                                          "data": _plain(_data_provenance(c, prep.split)), "device": device,
                                          # > 0: some backbone features came from the build's feature cache,
                                          # so the timings leave out their extraction
                                          "feature_cache_hits": FEATURES.hits - hits0},
                 # a trained network's result depends on the thread count (the order of float sums)
                 env=environment() | {"torch_threads": torch.get_num_threads()}, notes=notes)
    log.info("%s %s on %s device=%s fit %.1f s predict %.1f s %s", key, c["method"], _data_label(c), device,
             t1 - t0, t2 - t1, _metrics_text(metrics))
    try:
        keep_model(detector, c)
    except Exception as e:  # noqa: BLE001 - a model that cannot be kept costs a refit later, nothing more
        log.warning("%s: fitted model not kept (%s)", key, e)
    arrays = None
    idx = _example_indices(prep.labels, prep.defects, int(c["save_maps"] or 0))
    if idx and pred.maps is not None:
        arrays = {"index": np.array(idx), **encode_maps(pred.maps[idx]),
                  "images": (prep.test[idx].permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)}
        if masks is not None:
            arrays["masks"] = masks[idx].astype(np.uint8)
    rec = store.put(rec, arrays, replace=force)
    if not context.on_worker:   # a cluster task: the notebook's process that asked for it writes the line
        append(experiment_entry(rec, "computed", time.perf_counter() - t_start,
                                {k: rec.timings[k] for k in ("data_s", "fit_s", "predict_s", "features_fit_s",
                                                             "features_predict_s")}))
    return rec


def _plain(d):
    return json.loads(json.dumps(d, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def run_many(configs: Iterable[dict], store: Store | None = None, desc: str = "experiments") -> list[Record]:
    """``run`` over configs with a progress bar; on a Dask cluster when a scheduler is configured
    (``DEFECTBOOK_SCHEDULER``: see :mod:`defectbook.pipeline.executors`)."""
    configs = list(configs)
    cluster = _cluster()
    if cluster is not None:
        store = Store() if store is None else store
        t0 = time.perf_counter()
        mine: set = set()   # the keys this kernel's own tasks computed (not another notebook's, asked at once)
        records = cluster(configs, store, desc, computed=mine)
        for r in records:   # computed on the cluster: its phases were spent on the workers, several at once
            computed = r.key in mine
            append(experiment_entry(r, "computed" if computed else "reused", 0.0, worker_phases(r) if computed else {})
                   | {"where": "cluster"})
        log.debug("%d experiments on the cluster in %.1f s", len(records), time.perf_counter() - t0)
        return records
    return [run(c, store) for c in progress(configs, desc=desc, total=len(configs), leave=True)]


def prefetch(configs: Iterable[dict], store: Store | None = None) -> None:
    """On a Dask cluster (``DEFECTBOOK_SCHEDULER``): queue the experiments of ``configs`` now, without waiting, so
    that a page's later :func:`run_many` calls find them computed or under way (and the cluster works through
    the page's runs before those another notebook submits after it). Without a cluster: nothing (the records
    are computed when asked for)."""
    if _cluster() is not None and context.prefetch is not None and not context.on_worker:
        context.prefetch(list(configs), Store() if store is None else store)


def fitted(config: dict):
    """``(detector, prepared)`` fitted on the config's training data, for picture-only notebooks.

    A model saved under :func:`model_path` (by :func:`run` or an earlier call) is loaded instead of
    training again; otherwise the detector is fitted exactly as :func:`run` fits it and saved. With
    ``DEFECTBOOK_REUSE_MODELS=0`` nothing is loaded or saved. Each call is a line of the build ledger."""
    c = normalize(config)
    key, path = key_of(c), model_path(c)
    t_data = time.perf_counter()
    prep = prepare(c)
    t_data = time.perf_counter() - t_data
    device = device_of(c)
    entry = {"kind": "model", "key": key, "method": c["method"], "data": _data_label(c), "device": device}
    if settings.model_reuse() and (path / "params.json").is_file():
        t0 = time.perf_counter()
        try:
            det = load_model(c, device=device)
            t1 = time.perf_counter() - t0
            log.info("%s %s on %s: fitted model loaded (%.1f s, device %s)", key, c["method"], _data_label(c),
                     t1, device)
            rec = Store().get(key)   # the fit this load replaces: its recorded seconds are what reuse saved
            saved = rec.timings.get("fit_s") if rec is not None else None
            append(entry | {"status": "loaded", "seconds": round(t1 + t_data, 3),
                            "phases": {"data_s": round(t_data, 3), "model_load_s": round(t1, 3)}}
                   | ({"fit_s_saved": saved} if saved is not None else {}))
            return det, prep
        except Exception as e:  # noqa: BLE001 - an unreadable or refused model is refitted
            log.warning("%s: saved model refused (%s): fitting again", key, e)
    seed_everything(c["seed"])
    f0, t0 = clock.get("features"), time.perf_counter()
    det = build_detector(c).fit(prep.train)
    t1, f1 = time.perf_counter() - t0, clock.get("features")
    log.info("%s %s on %s: fitted in %.1f s (device %s)", key, c["method"], _data_label(c), t1, device)
    append(entry | {"status": "trained", "seconds": round(t1 + t_data, 3),
                    "phases": {"data_s": round(t_data, 3), "fit_s": round(t1, 3), "features_fit_s": round(f1 - f0, 3)}})
    if settings.model_reuse():
        det.save(path, key=key)
    return det, prep


def frame(records: Iterable[Record]) -> pd.DataFrame:
    """One row per record: method, dataset, category, ``data`` (``dataset:category``), split, seed,
    profile, metrics, timings, memory."""
    rows = []
    for r in records:
        c = r.config
        s = c.get("split", {})
        rows.append({"method": c["method"], "dataset": c["dataset"], "category": c.get("category"),
                     "data": f"{c['dataset']}:{c.get('category') or ''}",
                     "split": s.get("kind", "clean"), "noise": s.get("ratio"), "shots": s.get("n"),
                     "seed": c.get("seed"), "profile": c.get("profile"), **r.metrics, **r.timings,
                     "peak_rss_mb": r.memory.get("peak_rss_mb"), "backbone": r.extras.get("backbone"), "key": r.key})
    return pd.DataFrame(rows)
