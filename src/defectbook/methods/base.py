"""The protocol every detector follows (scikit-learn style).

* parameters in ``__init__`` (plain values, so a config dict can build the detector);
* ``fit(images) -> self`` with ``images`` a float tensor ``[N, 3, H, W]`` in ``[0, 1]``
  (defect-free or, for the noisy protocol, mostly defect-free training images);
* ``predict(images) -> Prediction`` with ``image_scores [B]`` (higher = more anomalous) and
  ``maps [B, H, W]`` at input resolution (``None`` for image-level-only methods);
* ``save(path)`` / ``Detector.load(path)``: a fitted detector kept on disk (a folder with
  ``params.json``, the method's registered name, the constructor's arguments, the code version and
  the SHA-256 of the state, itself checksummed; and ``state.pt``, the fitted state as tensors and
  plain values written with ``torch.save`` and read back with ``weights_only=True``: no pickled
  code). Frozen pretrained networks are rebuilt from the parameters, not stored.

Loading runs no code named by the folder: a model is rebuilt only as the registered class of its
method (:data:`defectbook.methods.REGISTRY`), through :func:`defectbook.methods.build`, so its
parameters are validated exactly as for a new detector; nested detectors (an ensemble's members)
likewise, and the only other objects a state may hold are :data:`_PLAIN_CLASSES`.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import nn

from .. import DefectbookError, __version__
from .registry import REGISTRY, build, method_of

#: bump when the layout of saved models changes
MODEL_FORMAT = 2
#: the modules whose code decides what a fitted model holds (their source is hashed into the code version)
_MODEL_CODE = ("methods", "components/backbones.py", "components/features.py", "components/gaussian.py",
               "components/memory.py", "components/flows.py", "components/losses.py", "components/perceptual.py",
               "utils.py")
#: plain helper classes whose attributes may be saved inside a detector's state
_PLAIN_CLASSES = {"defectbook.components.gaussian:PixelGaussians"}


@lru_cache(maxsize=1)
def code_version() -> str:
    """A short hash of the package version and of the source of the model code (:data:`_MODEL_CODE`):
    a saved model is only reused by the code that wrote it."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.blake2b(digest_size=8)
    h.update(f"{__version__}:{MODEL_FORMAT}".encode())
    for name in _MODEL_CODE:
        for f in sorted((root / name).rglob("*.py")) if (root / name).is_dir() else [root / name]:
            h.update(f.relative_to(root).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()


@dataclass
class Prediction:
    """Detector output. ``image_scores``: ``[B]``; ``maps``: ``[B, H, W]`` or ``None``."""

    image_scores: np.ndarray
    maps: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.image_scores = np.asarray(self.image_scores, dtype=np.float64).reshape(-1)
        if self.maps is not None:
            self.maps = np.asarray(self.maps, dtype=np.float32)
            if self.maps.ndim != 3 or self.maps.shape[0] != self.image_scores.shape[0]:
                raise ValueError(f"maps must be [B, H, W] with B = {len(self.image_scores)}, got {self.maps.shape}")


class Detector:
    """Base class: input checks, batching, the fitted flag, saving and loading. Subclasses implement
    ``_fit(images)`` and ``_predict(images) -> Prediction``; for :meth:`save` / :meth:`load` they name
    in ``_rebuilt`` the fitted attributes that ``_rebuild()`` recreates from the parameters (frozen
    backbones, optimisers) instead of storing them."""

    name = "detector"
    batch_size: int = 16
    #: fitted attributes not stored by :meth:`save` (recreated by :meth:`_rebuild` on load)
    _rebuilt: tuple[str, ...] = ("device_",)

    def __new__(cls, *args, **kwargs):
        # remember the constructor's arguments (what a saved model is rebuilt from)
        obj = super().__new__(cls)
        sig = inspect.signature(cls.__init__)
        params = {}
        for k, v in list(sig.bind_partial(None, *args, **kwargs).arguments.items())[1:]:
            params.update(v if sig.parameters[k].kind is inspect.Parameter.VAR_KEYWORD else {k: v})
        obj._init_params = params
        return obj

    def get_params(self) -> dict:
        """The arguments this detector was built with (defaults left out)."""
        return dict(getattr(self, "_init_params", {}))

    def fit(self, images: torch.Tensor) -> "Detector":
        images = check_images(images, "training")
        self._fit(images)
        self.fitted_ = True
        return self

    def predict(self, images: torch.Tensor) -> Prediction:
        if not getattr(self, "fitted_", False):
            raise DefectbookError(f"{self.name}: call fit() before predict()")
        images = check_images(images, "test")
        return self._predict(images)

    def _fit(self, images: torch.Tensor) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict(self, images: torch.Tensor) -> Prediction:  # pragma: no cover - abstract
        raise NotImplementedError

    # --- persistence -------------------------------------------------------------------------------
    def _state(self) -> dict:
        """The fitted state to store: every public attribute ending in ``_`` less :attr:`_rebuilt`."""
        skip = set(self._rebuilt) | {"fitted_"}
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_") and k not in skip}

    def _rebuild(self) -> None:
        """Recreate the :attr:`_rebuilt` attributes after the stored state is set (default: the device)."""

    def save(self, path: str | os.PathLike, key: str | None = None) -> Path:
        """Write the fitted detector to folder ``path`` (replaced atomically, one writer at a time);
        returns the path. ``key``: the experiment config's key, recorded so that a model store can
        refuse a model found under another config's folder."""
        from ..paths import _key_lock, disk_error, file_sha256, share_as_umask

        if not getattr(self, "fitted_", False):
            raise DefectbookError(f"{self.name}: only a fitted detector can be saved")
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
        except OSError as e:
            raise disk_error(e, path) from None
        try:
            share_as_umask(tmp, folder=True)
            torch.save(_encode(self._state(), self.name), tmp / "state.pt")
            meta = self._describe_saved() | {"key": key, "state_sha256": file_sha256(tmp / "state.pt")}
            meta = json.loads(json.dumps(meta, default=_json_default))
            meta["checksum"] = _meta_checksum(meta)
            (tmp / "params.json").write_text(json.dumps(meta, indent=1))
            with _key_lock(path.parent / f".{path.name}.lock"):   # two processes saving the same folder
                old = path.parent / f".{path.name}.old-{os.getpid()}"
                if path.exists():
                    path.rename(old)
                tmp.rename(path)
                shutil.rmtree(old, ignore_errors=True)
        except OSError as e:
            raise disk_error(e, path) from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return path

    def _describe_saved(self) -> dict:
        entry = method_of(type(self))
        if entry is None:
            raise DefectbookError(f"{type(self).__module__}:{type(self).__qualname__} is not a registered method: "
                                  f"only registered detectors can be saved")
        return {"class": entry.target, "method": entry.name,
                "params": self.get_params(), "code_version": code_version(), "format": MODEL_FORMAT}

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = None, check_code: bool = True) -> "Detector":
        """A fitted detector read back from :meth:`save`'s folder. ``device``: where it runs (None: the
        saved parameter). Refused with a :class:`~defectbook.DefectbookError` (before any code of the
        folder's choosing could run or any state is read): a ``params.json`` that fails its checksum,
        a class that is not its method's registered class, parameters the method does not accept, a
        ``state.pt`` that is not the one saved with it, and (unless ``check_code=False``) a model
        written by other model code."""
        path = Path(path)
        meta = read_saved_meta(path)
        if check_code and meta.get("code_version") != code_version():
            raise DefectbookError(f"the detector saved in {path} was written by other model code "
                                  f"({meta.get('code_version')} != {code_version()}): fit it again")
        det = _instantiate(meta, device)
        if cls is not Detector and not isinstance(det, cls):
            raise DefectbookError(f"{path} holds a {type(det).__name__}, not a {cls.__name__}")
        try:
            state = torch.load(path / "state.pt", map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - an unreadable file is one clear error
            raise DefectbookError(
                f"{path / 'state.pt'} is not readable ({e.__class__.__name__}): fit it again"
            ) from None
        det._set_state(state, device)
        det._saved_meta = meta
        return det

    def _set_state(self, state: dict, override: str | None = None) -> None:
        """Set the encoded fitted ``state`` (see :func:`_encode`); ``override``: the device asked of
        :meth:`load` (passed on to nested detectors)."""
        from ..utils import resolve_device

        if hasattr(self, "device"):
            self.device_ = resolve_device(self.device)
        device = getattr(self, "device_", torch.device("cpu"))
        modules = {}
        for k, v in _decode(state, device, override).items():
            if isinstance(v, _ModuleState):
                modules[k] = v.state
            else:
                setattr(self, k, v)
        self._rebuild()
        for k, sd in modules.items():
            getattr(self, k).load_state_dict(sd)
            getattr(self, k).eval()
        self.fitted_ = True
        self._loaded()

    def _loaded(self) -> None:
        """Restore what the stored state implies but does not hold, after :meth:`load` (default: nothing)."""


#: how far outside [0, 1] an image value may lie (resampling overshoot) before the batch is refused
RANGE_TOLERANCE = 0.05


def check_images(images: torch.Tensor, what: str) -> torch.Tensor:
    """Validate a batch of images: float ``[N, 3, H, W]`` in ``[0, 1]``, N >= 1, every value finite.

    Integer images (``uint8`` in 0..255) and floats far outside [0, 1] are refused rather than scaled
    silently (a detector fitted on 0..255 would score every [0, 1] image as a defect); one NaN pixel
    would turn a whole anomaly map into NaN, so it is refused too, with its image's index."""
    if not isinstance(images, torch.Tensor):
        raise DefectbookError(f"{what} images must be a torch.Tensor [N, 3, H, W], got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise DefectbookError(f"{what} images must have shape [N, 3, H, W], got {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise DefectbookError(f"no {what} images")
    if not images.is_floating_point():
        raise DefectbookError(f"{what} images must be floats in [0, 1], got {str(images.dtype).replace('torch.', '')} "
                              f"(for 0..255 images pass images.float() / 255)")
    finite = torch.isfinite(images).flatten(1).all(1)
    if not bool(finite.all()):
        bad = torch.nonzero(~finite).flatten().tolist()
        raise DefectbookError(f"{what} images hold NaN or infinite values (image{'s' if len(bad) > 1 else ''} "
                              f"{', '.join(map(str, bad[:5]))}{' ...' if len(bad) > 5 else ''}): fix or drop them")
    lo, hi = float(images.min()), float(images.max())
    if lo < -RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
        hint = " (0..255 values: divide by 255)" if hi > 2 else ""
        raise DefectbookError(f"{what} images must lie in [0, 1], got values in [{lo:.3g}, {hi:.3g}]{hint}")
    return images.float()


def batches(images: torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    """Consecutive slices of ``images`` of at most ``batch_size``."""
    for i in range(0, images.shape[0], batch_size):
        yield images[i : i + batch_size]


_RULE = re.compile(
    r"^(?P<kind>int|float)(?:(?P<op>>=|>|<=|<)(?P<v>[-+.\deE]+)|(?P<lb>[\[(])(?P<a>[-+.\deE]+),(?P<b>[-+.\deE]+)(?P<rb>[\])]))?(?P<none>\?)?$"
)


def check_params(method: str, **specs: tuple) -> None:
    """Validate detector parameters: ``name=(value, rule)``; a :class:`DefectbookError` naming the
    parameter and its domain for the first value outside it.

    ``rule``: ``int`` or ``float`` (a finite number; an int is a float too, a bool is neither),
    optionally followed by a bound (``>=1``, ``>0``, ``<1``) or an interval (``(0,1]``, ``[0,1)``),
    then ``?`` when None is allowed, e.g. ``check_params("padim", d=(d, "int>=1?"), eps=(eps, "float>0"))``.
    """
    import math
    import numbers

    for name, (value, rule) in specs.items():
        m = _RULE.match(rule)
        if m is None:  # pragma: no cover - a programming error
            raise ValueError(f"bad rule {rule!r}")
        kind, ok = m["kind"], True
        if value is None:
            ok = bool(m["none"])
        elif isinstance(value, bool) or not isinstance(value, numbers.Real):
            ok = False
        elif kind == "int" and not isinstance(value, numbers.Integral):
            ok = False
        elif not math.isfinite(float(value)):
            ok = False
        elif m["op"]:
            v = float(m["v"])
            ok = {">=": value >= v, ">": value > v, "<=": value <= v, "<": value < v}[m["op"]]
        elif m["lb"]:
            a, b = float(m["a"]), float(m["b"])
            ok = (value >= a if m["lb"] == "[" else value > a) and (value <= b if m["rb"] == "]" else value < b)
        if not ok:
            what = "an integer" if kind == "int" else "a number"
            dom = (
                f" {m['op']} {m['v']}" if m["op"] else (f" in {m['lb']}{m['a']}, {m['b']}{m['rb']}" if m["lb"] else "")
            )
            raise DefectbookError(f"{method}: parameter {name} must be {what}{dom}{' or None' if m['none'] else ''}, "
                                  f"got {value!r}")


def check_choice(method: str, name: str, value, choices) -> None:
    """A :class:`DefectbookError` unless ``value`` is one of ``choices``."""
    if value not in tuple(choices):
        raise DefectbookError(
            f"{method}: parameter {name} must be one of {', '.join(map(repr, choices))}, got {value!r}"
        )
# --- encoding of fitted state for torch.save(..., weights_only-readable) -----------------------------------

@dataclass
class _ModuleState:
    state: dict


def state_nbytes(detector: "Detector") -> int:
    """Bytes of the state :meth:`Detector.save` would write (tensors, arrays, module weights)."""
    def size(v) -> int:
        if isinstance(v, torch.Tensor):
            return v.numel() * v.element_size()
        if isinstance(v, nn.Module):
            return sum(size(t) for t in v.state_dict().values())
        if isinstance(v, np.ndarray):
            return v.nbytes
        if isinstance(v, Detector):
            return state_nbytes(v)
        if isinstance(v, (list, tuple)):
            return sum(size(x) for x in v)
        if isinstance(v, dict):
            return sum(size(x) for x in v.values())
        if hasattr(v, "__dict__") and not isinstance(v, type):
            return size(vars(v))
        return 0
    return size(detector._state())


def _json_default(o):
    if isinstance(o, (np.generic,)):
        return o.item()
    if isinstance(o, (torch.device, Path)):
        return str(o)
    raise TypeError(f"parameter of type {type(o).__name__} is not JSON")


def _meta_checksum(meta: dict) -> str:
    """SHA-256 of a saved model's ``params.json`` content (every field but ``checksum``)."""
    body = {k: v for k, v in meta.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def read_saved_meta(path: str | os.PathLike) -> dict:
    """The checked ``params.json`` of a saved model folder: readable, of the current format, its
    checksum right, its class the registered class of its method, and ``state.pt`` the file saved
    with it (its SHA-256). A :class:`~defectbook.DefectbookError` names the first problem."""
    from ..paths import file_sha256

    path = Path(path)
    if not (path / "params.json").is_file() or not (path / "state.pt").is_file():
        raise DefectbookError(f"no saved detector in {path} (expected params.json and state.pt)")
    try:
        meta = json.loads((path / "params.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        raise DefectbookError(f"{path / 'params.json'} is not readable JSON: fit the model again") from None
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT or "checksum" not in meta:
        raise DefectbookError(f"{path} is not a saved model of this version (format {MODEL_FORMAT}): fit it again")
    if meta["checksum"] != _meta_checksum(meta):
        raise DefectbookError(f"{path / 'params.json'} fails its checksum (edited by hand or damaged): fit it again")
    _registered_class(meta)
    if file_sha256(path / "state.pt") != meta.get("state_sha256"):
        raise DefectbookError(f"{path / 'state.pt'} is not the state saved with {path / 'params.json'} "
                              f"(changed or damaged): fit it again")
    return meta


def _registered_class(meta: dict) -> str:
    """The method name of a saved detector's description, after checking that its ``class`` is that
    method's registered class: nothing else may be built from a file."""
    method, klass = meta.get("method"), meta.get("class")
    if not isinstance(method, str) or REGISTRY.get(method) != klass:
        raise DefectbookError(f"refusing to load a detector of class {klass!r} for method {method!r}: only a "
                              f"method's registered class is loaded ({', '.join(sorted(REGISTRY))})")
    if not isinstance(meta.get("params"), dict):
        raise DefectbookError(f"the saved parameters of {method} are not a mapping")
    return method


def _instantiate(meta: dict, device: str | None) -> "Detector":
    """The registered detector of a saved description, built (and its parameters validated) by
    :func:`defectbook.methods.build`."""
    method = _registered_class(meta)
    params = dict(meta["params"])
    if device is not None:
        params["device"] = device
    return build(method, **params)


def _encode(v, where: str):
    """Tensors, numbers, strings, lists, tuples, dicts, modules (their state dict), NumPy arrays,
    nested detectors and :data:`_PLAIN_CLASSES` objects -> a structure ``torch.load(weights_only=True)`` reads."""
    if isinstance(v, torch.Tensor):
        return v.detach().cpu()
    if isinstance(v, nn.Module):
        return {"__module__": {k: t.detach().cpu() for k, t in v.state_dict().items()}}
    if isinstance(v, Detector):
        return {"__detector__": json.dumps(v._describe_saved(), default=_json_default),
                "state": _encode(v._state(), v.name)}
    if isinstance(v, np.ndarray):
        return {"__numpy__": torch.from_numpy(np.ascontiguousarray(v))}
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, torch.device):
        return str(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, torch.Size):
        return {"__size__": list(v)}
    if isinstance(v, tuple):
        return {"__tuple__": [_encode(x, where) for x in v]}
    if isinstance(v, list):
        return [_encode(x, where) for x in v]
    if isinstance(v, dict):
        return {"__map__": [[k, _encode(x, where)] for k, x in v.items()]}
    cls = f"{type(v).__module__}:{type(v).__qualname__}"
    if cls in _PLAIN_CLASSES:
        return {"__object__": cls, "state": _encode(vars(v), where)}
    raise DefectbookError(f"{where}: cannot save a fitted attribute of type {cls}")


def _decode(v, device: torch.device, override: str | None = None):
    if isinstance(v, torch.Tensor):
        return v.to(device)
    if isinstance(v, list):
        return [_decode(x, device, override) for x in v]
    if not isinstance(v, dict):
        return v
    if "__module__" in v:
        return _ModuleState(v["__module__"])
    if "__numpy__" in v:
        return v["__numpy__"].numpy()
    if "__size__" in v:
        return torch.Size(v["__size__"])
    if "__tuple__" in v:
        return tuple(_decode(x, device, override) for x in v["__tuple__"])
    if "__map__" in v:
        return {k: _decode(x, device, override) for k, x in v["__map__"]}
    if "__detector__" in v:
        det = _instantiate(json.loads(v["__detector__"]), override)   # a registered class, or refused
        det._set_state(v["state"], override)
        return det
    if "__object__" in v:
        if v["__object__"] not in _PLAIN_CLASSES:
            raise DefectbookError(f"refusing to load an object of class {v['__object__']}")
        module, qual = v["__object__"].split(":")
        obj = object.__new__(getattr(importlib.import_module(module), qual))
        obj.__dict__.update(_decode(v["state"], device, override))
        return obj
    raise DefectbookError(f"unreadable saved state entry with keys {sorted(v)}")
