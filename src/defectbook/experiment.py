"""The experiment runner: the one way notebooks get numbers.

``run(config)`` loads the data split, builds the detector from the registry, fits, predicts,
evaluates and stores a :class:`~defectbook.results.Record`; a record that already exists for the
same config (hash) is returned without recomputation. A config is a plain dict::

    {"method": "padim", "params": {"d": 100},
     "dataset": "synthetic", "category": "weave", "data": {"size": 128, "n_train": 60},
     "split": {"kind": "clean"},           # or {"kind": "noisy", "ratio": 0.1} / {"kind": "few_shot", "n": 16}
     "transform": {"resize": 128, "crop": 112},
     "seed": 0, "profile": "cpu", "save_maps": 8}

``split`` may also cap the sizes (``max_train``, ``max_test``: seeded subsets) for the smoke
profile. ``data_root`` (where real data lies), ``profile``, ``device`` and ``spec`` (the chapter
the config was built from) are recorded but not hashed. Configs are built by :func:`defectbook.spec.build`.
"""
from __future__ import annotations

import copy
import inspect
import json
import logging
import os
import platform
import subprocess
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

import numpy as np
import pandas as pd
import torch

from . import DefectbookError, __version__
from .paths import cache_dir, data_root as default_data_root, repo_root
from .features import FEATURES
from .results import Record, Store, config_hash, encode_maps

NOT_HASHED = ("data_root", "profile", "device", "spec")
DEFAULTS = {"params": {}, "category": None, "data": {}, "split": {"kind": "clean"},
            "transform": {"resize": 256, "crop": None}, "seed": 0, "profile": None, "save_maps": 8,
            "data_root": None}


def normalize(config: dict, need_method: bool = True) -> dict:
    """Fill defaults and round-trip through JSON (so tuples and lists hash alike)."""
    if "dataset" not in config or (need_method and "method" not in config):
        raise DefectbookError("an experiment config needs at least 'method' and 'dataset'")
    out = copy.deepcopy(DEFAULTS)
    for k, v in config.items():
        out[k] = v
    return json.loads(json.dumps(out, default=str))


def key_of(config: dict, fingerprints: dict | None = None) -> str:
    """The record key: a hash of the config (less NOT_HASHED), the package version, the method's
    record version (:data:`~defectbook.methods.RECORD_VERSIONS`) and, for synthetic data, the
    generator version (a changed generator must not reuse old records); for real data, the split's
    file fingerprint (:func:`defectbook.data.fingerprint.fingerprint`). ``fingerprints``: a memo the
    caller keeps for keying many records at once (one file listing per split, not per record)."""
    from .methods import RECORD_VERSIONS

    c = normalize(config)
    salt = {"version": __version__}
    if c["method"] in RECORD_VERSIONS:
        salt["record"] = RECORD_VERSIONS[c["method"]]
    if c["dataset"] == "synthetic":
        from .data.synthetic import GENERATOR_VERSION

        salt["generator"] = GENERATOR_VERSION
    else:  # real data: which files (another, missing or changed root gives another key or an error)
        if fingerprints is None:
            salt["data"] = data_fingerprint(c)["digest"]
        else:
            split = json.dumps({a: b for a, b in c.items() if a not in ("method", "params", "spec", "save_maps")},
                               sort_keys=True, default=str)
            if split not in fingerprints:
                fingerprints[split] = data_fingerprint(c)["digest"]
            salt["data"] = fingerprints[split]
    return config_hash({k: v for k, v in c.items() if k not in NOT_HASHED} | salt)


def data_fingerprint(config: dict) -> dict:
    """:func:`defectbook.data.fingerprint.fingerprint` of the config's split (lists files, reads no image)."""
    from .data.fingerprint import fingerprint

    return fingerprint(load_split_for(config))


@dataclass
class Prepared:
    """Tensors of one split: ``train [N,3,H,W]``, ``test [M,3,H,W]`` in [0,1], ``masks [M,H,W]`` or
    None, ``labels [M]``, ``defects`` (defect type per test image) and the ``split`` itself."""

    train: torch.Tensor
    test: torch.Tensor
    masks: torch.Tensor | None
    labels: np.ndarray
    defects: list
    split: object


def _subset(samples: list, n: int | None, seed: int, stratify: bool = False) -> list:
    if n is None or n >= len(samples):
        return samples
    rng = np.random.default_rng(seed)
    if not stratify:
        return [samples[i] for i in sorted(rng.choice(len(samples), n, replace=False))]
    good = [i for i, s in enumerate(samples) if s.label == 0]
    bad = [i for i, s in enumerate(samples) if s.label == 1]
    n_good = max(1, round(n * len(good) / len(samples))) if good else 0
    pick = list(rng.choice(good, min(n_good, len(good)), replace=False)) + \
        list(rng.choice(bad, min(n - n_good, len(bad)), replace=False))
    return [samples[i] for i in sorted(pick)]


def load_split_for(config: dict):
    """The (possibly noisy / few-shot / capped) :class:`~defectbook.data.Split` of a config."""
    from . import data
    from .data import splits
    from .data.base import Split

    c = normalize(config, need_method=False)
    kw = dict(c["data"])
    if c["dataset"] == "synthetic":
        kw.setdefault("cache_dir", str(cache_dir() / "synthetic"))
        root = None
    else:
        root = c["data_root"] or default_data_root()
        if root is None and c["dataset"] not in data.PACKAGED:   # ELPV: read from its installed package
            raise DefectbookError(f"dataset {c['dataset']!r} needs a data root: pass --data-root or set DEFECTBOOK_DATA")
    split = data.load_split(c["dataset"], c["category"], root=root, **kw)
    s, seed = c["split"], c["seed"]
    kind = s.get("kind", "clean")
    if kind == "noisy":
        split = splits.noisy_split(split, s["ratio"], seed=seed, fixed_test=bool(s.get("fixed_test")))
    elif kind == "few_shot":
        split = splits.few_shot(split, s["n"], seed=seed)
    elif kind != "clean":
        raise DefectbookError(f"unknown split kind {kind!r}; known: clean, noisy, few_shot")
    if s.get("max_train") or s.get("max_test"):
        split = Split(_subset(split.train, s.get("max_train"), seed), _subset(split.test, s.get("max_test"), seed, True),
                      split.has_masks, dict(split.info, capped={"max_train": s.get("max_train"), "max_test": s.get("max_test")}))
    return split


@lru_cache(maxsize=4)
def _prepare_cached(blob: str) -> Prepared:
    from .data import load_images, load_masks
    from .data.transforms import make_mask_transform, make_transform

    c = json.loads(blob)
    split = load_split_for(c)
    t = c["transform"]
    tf, mtf = make_transform(t["resize"], t.get("crop")), make_mask_transform(t["resize"], t.get("crop"))
    masks = load_masks(split.test, mtf) if split.has_masks else None
    return Prepared(load_images(split.train, tf), load_images(split.test, tf), masks,
                    np.array([s.label for s in split.test]), [s.defect for s in split.test], split)


def prepare(config: dict) -> Prepared:
    """Load and transform the data of ``config`` (memoised for the last few data configs)."""
    c = normalize(config)
    part = {k: c[k] for k in ("dataset", "category", "data", "split", "transform", "seed", "data_root")}
    if c["dataset"] != "synthetic":  # data changed in place must not be served from the memo
        part["fingerprint"] = data_fingerprint(c)["digest"]
    return _prepare_cached(json.dumps(part, sort_keys=True))


log = logging.getLogger("defectbook")
if os.environ.get("DEFECTBOOK_LOG"):             # a notebook kernel of a batch: log lines to the batch's file
    from .utils import setup_logging

    setup_logging(stderr=False)


def device_of(config: dict) -> str:
    """The resolved device of ``config`` (``"cpu"``, ``"cuda"``, ``"cuda:N"``): the method's own
    ``params.device`` when set, else the config's top-level ``device`` (the profile's), else ``"auto"``
    (CUDA when available). CUDA asked for on a machine without it is a clear error."""
    from .utils import resolve_device

    c = normalize(config)
    return str(resolve_device(c["params"].get("device") or c.get("device") or "auto"))


def build_detector(config: dict):
    """The detector of ``config`` with the experiment seed and the resolved device passed on."""
    from .methods import REGISTRY, build

    c = normalize(config)
    params = dict(c["params"])
    name = c["method"]
    if name in REGISTRY:
        module, cls = REGISTRY[name].split(":")
        import importlib

        sig = inspect.signature(getattr(importlib.import_module(module), cls).__init__)
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
        if "seed" in sig.parameters and "seed" not in params:
            params["seed"] = c["seed"]
        if "device" in sig.parameters or takes_any:
            params["device"] = device_of(c)
    return build(name, **params)


def model_path(config: dict):
    """Where the fitted model of ``config`` is kept: ``cache_dir()/models/<config key>-<code version>``
    (a changed config or changed model code never finds a stale model)."""
    from .methods.base import code_version

    return cache_dir() / "models" / f"{key_of(config)}-{code_version()}"


def keep_model(detector, config: dict, limit_mb: float | None = None) -> bool:
    """Save a fitted detector under :func:`model_path` when its state takes at most ``limit_mb``
    (default ``DEFECTBOOK_MODEL_LIMIT_MB``, 16; 0 keeps none; none with ``DEFECTBOOK_REUSE_MODELS=0``). :func:`run` calls it for every
    experiment: the cpu profile's networks (about 1 MiB) are kept, so a picture notebook loads them;
    Gaussian banks (tens of MiB and more) and paper-size networks (TrustMAE: 96 MiB, times hundreds
    of configs) are not, and :func:`fitted` keeps those it trains itself. Returns whether it was saved."""
    from .buildreport import model_reuse
    from .methods.base import state_nbytes

    if not model_reuse():
        return False
    limit = float(os.environ.get("DEFECTBOOK_MODEL_LIMIT_MB", 16) if limit_mb is None else limit_mb)
    size_mb = state_nbytes(detector) / 2 ** 20
    if size_mb > limit:
        log.debug("%s: model of %.0f MiB not kept (limit %.0f MiB)", key_of(config), size_mb, limit)
        return False
    detector.save(model_path(config), key=key_of(config))
    return True


def load_model(config: dict, device: str | None = None):
    """The fitted model of ``config`` from the model store (:func:`model_path`), checked against the
    config before use: its files' checksums and registered class (:meth:`Detector.load`), and that it
    was saved for this config's key, method and parameters (a model copied from another method's or
    category's folder, or with edited parameters, is refused). A
    :class:`~defectbook.DefectbookError` says why; :func:`fitted` then trains it again."""
    from .methods.base import Detector, _json_default

    c = normalize(config)
    key, path = key_of(c), model_path(c)
    det = Detector.load(path, device=device)
    meta = det._saved_meta
    want = json.loads(json.dumps(build_detector(c).get_params(), default=_json_default))
    want.pop("device", None)
    got = {k: v for k, v in meta["params"].items() if k != "device"}
    problems = [f"{what} {a!r} instead of {b!r}" for what, a, b in
                (("key", meta.get("key"), key), ("method", meta["method"], c["method"])) if a != b]
    if got != want:
        diff = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
        problems.append(f"parameters {', '.join(diff)} differ from the config's")
    if problems:
        raise DefectbookError(f"the model in {path} was not saved for this config ({'; '.join(problems)})")
    return det


class PeakMemory:
    """Peak resident memory (MiB) of this process while the block runs (sampled every 20 ms), and
    the CUDA peak where a GPU is used."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.peak_rss_mb = 0.0
        self._stop = threading.Event()

    @staticmethod
    def rss_mb() -> float:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except OSError:  # not Linux: lifetime peak is the best we have
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def _watch(self):
        while not self._stop.is_set():
            self.peak_rss_mb = max(self.peak_rss_mb, self.rss_mb())
            self._stop.wait(self.interval)

    def __enter__(self):
        self.start_rss_mb = self.rss_mb()
        self.peak_rss_mb = self.start_rss_mb
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_rss_mb = max(self.peak_rss_mb, self.rss_mb())

    def as_dict(self) -> dict:
        d = {"peak_rss_mb": round(self.peak_rss_mb, 1), "start_rss_mb": round(self.start_rss_mb, 1)}
        if torch.cuda.is_available():
            d["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        return d


@lru_cache(maxsize=1)
def environment() -> dict:
    """Library versions and the git commit of the source checkout (with a dirty flag)."""
    import sklearn
    import torchvision

    env = {"defectbook": __version__, "python": platform.python_version(), "torch": torch.__version__,
           "torchvision": torchvision.__version__, "numpy": np.__version__, "sklearn": sklearn.__version__,
           "machine": platform.machine(), "cuda": torch.cuda.is_available()}
    root = repo_root()
    if root is not None:
        try:
            env["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                               text=True, timeout=10).stdout.strip() or None
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                   capture_output=True, text=True, timeout=10).stdout.strip()
            env["git_dirty"] = bool(dirty)
        except (OSError, subprocess.SubprocessError):
            env["git_commit"] = None
    return env


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
    status, appended to the batch's build ledger (:mod:`defectbook.buildreport`)."""
    from .buildreport import append, clock, experiment_entry
    from .metrics import evaluate
    from .utils import seed_everything

    from . import dispatch

    t_start = time.perf_counter()
    c = normalize(config)
    key = key_of(c)
    store = Store() if store is None else store  # (an empty Store is falsy: it has __len__)
    if not force:
        rec = store.get(key)
        if rec is not None:
            rec.config.update({k: c[k] for k in NOT_HASHED if k in c})   # the unhashed fields of this call
            log.info("%s %s on %s: record reused", key, c["method"], _data_label(c))
            if not dispatch._on_worker:
                append(experiment_entry(rec, "reused", time.perf_counter() - t_start))
            return rec
        if dispatch.delegate():  # a scheduler is configured: one task per key, wherever it is asked for
            rec = dispatch.run_many([c], store, desc=key)[0]
            append(experiment_entry(rec, "computed", time.perf_counter() - t_start, {}) | {"where": "cluster"})
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
                 env=environment(), notes=notes)
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
    if not dispatch._on_worker:   # a cluster task: the notebook's process that asked for it writes the line
        append(experiment_entry(rec, "computed", time.perf_counter() - t_start,
                                {k: rec.timings[k] for k in ("data_s", "fit_s", "predict_s", "features_fit_s",
                                                             "features_predict_s")}))
    return rec


def _data_provenance(c: dict, split) -> dict:
    """Where a record's data came from: the data root and the split's fingerprint."""
    from .data.fingerprint import fingerprint

    root = None if c["dataset"] == "synthetic" else str(c["data_root"] or default_data_root())
    if c["dataset"] == "elpv":
        root = str(split.info.get("package", "elpv_dataset")) + " " + str(split.info.get("package_version"))
    return {"root": root, "fingerprint": fingerprint(split)}


def _describe(detector) -> str | None:
    ext = getattr(detector, "extractor_", None)
    if ext is not None and hasattr(ext, "describe"):
        return ext.describe()
    b = getattr(detector, "backbone", None)
    return f"{b}[{getattr(detector, 'weights', None) or 'imagenet'}]" if isinstance(b, str) else None


def _plain(d):
    return json.loads(json.dumps(d, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def run_many(configs: Iterable[dict], store: Store | None = None, desc: str = "experiments") -> list[Record]:
    """``run`` over configs with a progress bar; on a Dask cluster when a scheduler is configured
    (``DEFECTBOOK_SCHEDULER``: see :mod:`defectbook.dispatch`)."""
    from . import dispatch
    from .utils import progress

    configs = list(configs)
    if dispatch.scheduler_address():
        from .buildreport import append, experiment_entry

        store = Store() if store is None else store
        t0 = time.perf_counter()
        had = {k for k in map(key_of, configs) if store.path(k).exists()}
        records = dispatch.run_many(configs, store, desc)
        for r in records:   # computed on the cluster: its phases were spent in the workers, at once
            append(experiment_entry(r, "reused" if r.key in had else "computed", 0.0) | {"where": "cluster"})
        log.debug("%d experiments on the cluster in %.1f s", len(records), time.perf_counter() - t0)
        return records
    return [run(c, store) for c in progress(configs, desc=desc, total=len(configs), leave=True)]


def fitted(config: dict):
    """``(detector, prepared)`` fitted on the config's training data, for picture-only notebooks.

    A model saved under :func:`model_path` (by :func:`run` or an earlier call) is loaded instead of
    training again; otherwise the detector is fitted exactly as :func:`run` fits it and saved. With
    ``DEFECTBOOK_REUSE_MODELS=0`` nothing is loaded or saved. Each call is a line of the build ledger."""
    from .buildreport import append, clock, model_reuse
    from .utils import seed_everything

    c = normalize(config)
    key, path = key_of(c), model_path(c)
    t_data = time.perf_counter()
    prep = prepare(c)
    t_data = time.perf_counter() - t_data
    device = device_of(c)
    entry = {"kind": "model", "key": key, "method": c["method"], "data": _data_label(c), "device": device}
    if model_reuse() and (path / "params.json").is_file():
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
    if model_reuse():
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
