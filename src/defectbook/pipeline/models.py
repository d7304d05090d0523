"""Building detectors for a config and the model store: fitted models kept for reuse."""
from __future__ import annotations

import inspect
import json
import logging

from .. import DefectbookError, settings
from ..config import normalize
from ..methods import REGISTRY, build, registry
from ..methods.base import Detector, _json_default, code_version, state_nbytes
from ..paths import cache_dir
from ..utils import resolve_device
from .keys import key_of

log = logging.getLogger("defectbook")


def device_of(config: dict) -> str:
    """The resolved device of ``config`` (``"cpu"``, ``"cuda"``, ``"cuda:N"``): the method's own
    ``params.device`` when set, else the config's top-level ``device`` (the profile's), else ``"auto"``
    (CUDA when available). CUDA asked for on a machine without it is a clear error."""
    c = normalize(config)
    return str(resolve_device(c["params"].get("device") or c.get("device") or "auto"))


def build_detector(config: dict):
    """The detector of ``config`` with the experiment seed and the resolved device passed on."""
    c = normalize(config)
    params = dict(c["params"])
    name = c["method"]
    if name in REGISTRY:
        sig = inspect.signature(registry.method(name).klass.__init__)   # its own __init__ only
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
        if "seed" in sig.parameters and "seed" not in params:
            params["seed"] = c["seed"]
        if "device" in sig.parameters or takes_any:
            params["device"] = device_of(c)
    return build(name, **params)


def model_path(config: dict):
    """Where the fitted model of ``config`` is kept: ``cache_dir()/models/<config key>-<code version>``
    (a changed config or changed model code never finds a stale model)."""
    return cache_dir() / "models" / f"{key_of(config)}-{code_version()}"


def keep_model(detector, config: dict, limit_mb: float | None = None) -> bool:
    """Save a fitted detector under :func:`model_path` when its state takes at most ``limit_mb``
    (default ``DEFECTBOOK_MODEL_LIMIT_MB``, 16; 0 keeps none; none with ``DEFECTBOOK_REUSE_MODELS=0``). :func:`run`
    calls it for every experiment: the cpu profile's networks (about 1 MiB) are kept, so a picture notebook loads them;
    Gaussian banks (tens of MiB and more) and paper-size networks (TrustMAE: 96 MiB, times hundreds
    of configs) are not, and :func:`fitted` keeps those it trains itself. Returns whether it was saved."""
    if not settings.model_reuse():
        return False
    limit = settings.model_limit_mb() if limit_mb is None else float(limit_mb)
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
