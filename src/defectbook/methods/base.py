"""The protocol every detector follows (scikit-learn style).

* parameters in ``__init__`` (plain values, so a config dict can build the detector);
* ``fit(images) -> self`` with ``images`` a float tensor ``[N, 3, H, W]`` in ``[0, 1]``
  (defect-free or, for the noisy protocol, mostly defect-free training images);
* ``predict(images) -> Prediction`` with ``image_scores [B]`` (higher = more anomalous) and
  ``maps [B, H, W]`` at input resolution (``None`` for image-level-only methods);
* ``save(path)`` / ``Detector.load(path)``: a fitted detector kept on disk (a folder with
  ``params.json``, the constructor's arguments and the code version, and ``state.pt``, the fitted
  state as tensors and plain values written with ``torch.save`` and read back with
  ``weights_only=True``: no pickled code). Frozen pretrained networks are rebuilt from the
  parameters, not stored.
"""
from __future__ import annotations

import re
import hashlib
import importlib
import inspect
import json
import os
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

#: bump when the layout of saved models changes
MODEL_FORMAT = 1
#: the modules whose code decides what a fitted model holds (their source is hashed into the code version)
_MODEL_CODE = ("methods", "backbones.py", "features.py", "gaussian.py", "memory.py", "flows.py", "losses.py",
               "utils.py")
#: plain helper classes whose attributes may be saved inside a detector's state
_PLAIN_CLASSES = {"defectbook.gaussian:PixelGaussians"}


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

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted detector to folder ``path`` (replaced atomically); returns the path."""
        if not getattr(self, "fitted_", False):
            raise DefectbookError(f"{self.name}: only a fitted detector can be saved")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
        try:
            torch.save(_encode(self._state(), self.name), tmp / "state.pt")
            (tmp / "params.json").write_text(json.dumps(self._describe_saved(), indent=1, default=_json_default))
            if path.exists():
                shutil.rmtree(path)
            tmp.rename(path)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return path

    def _describe_saved(self) -> dict:
        return {"class": f"{type(self).__module__}:{type(self).__qualname__}", "method": self.name,
                "params": self.get_params(), "code_version": code_version(), "format": MODEL_FORMAT}

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = None, check_code: bool = True) -> "Detector":
        """A fitted detector read back from :meth:`save`'s folder. ``device``: where it runs (None: the
        saved parameter). A model written by other model code is refused unless ``check_code=False``."""
        path = Path(path)
        if not (path / "params.json").is_file() or not (path / "state.pt").is_file():
            raise DefectbookError(f"no saved detector in {path} (expected params.json and state.pt)")
        meta = json.loads((path / "params.json").read_text())
        if check_code and meta.get("code_version") != code_version():
            raise DefectbookError(f"the detector saved in {path} was written by other model code "
                                  f"({meta.get('code_version')} != {code_version()}): fit it again")
        state = torch.load(path / "state.pt", map_location="cpu", weights_only=True)
        det = _instantiate(meta, device)
        if cls is not Detector and not isinstance(det, cls):
            raise DefectbookError(f"{path} holds a {type(det).__name__}, not a {cls.__name__}")
        det._set_state(state, device)
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


def check_images(images: torch.Tensor, what: str) -> torch.Tensor:
    """Validate a batch of images: float ``[N, 3, H, W]`` in ``[0, 1]``, N >= 1."""
    if not isinstance(images, torch.Tensor):
        raise DefectbookError(f"{what} images must be a torch.Tensor [N, 3, H, W], got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise DefectbookError(f"{what} images must have shape [N, 3, H, W], got {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise DefectbookError(f"no {what} images")
    return images.float()


def batches(images: torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    """Consecutive slices of ``images`` of at most ``batch_size``."""
    for i in range(0, images.shape[0], batch_size):
        yield images[i : i + batch_size]


_RULE = re.compile(r"^(?P<kind>int|float)(?:(?P<op>>=|>|<=|<)(?P<v>[-+.\deE]+)|(?P<lb>[\[(])(?P<a>[-+.\deE]+),(?P<b>[-+.\deE]+)(?P<rb>[\])]))?(?P<none>\?)?$")


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
            dom = f" {m['op']} {m['v']}" if m["op"] else (f" in {m['lb']}{m['a']}, {m['b']}{m['rb']}" if m["lb"] else "")
            raise DefectbookError(f"{method}: parameter {name} must be {what}{dom}{' or None' if m['none'] else ''}, "
                                  f"got {value!r}")


def check_choice(method: str, name: str, value, choices) -> None:
    """A :class:`DefectbookError` unless ``value`` is one of ``choices``."""
    if value not in tuple(choices):
        raise DefectbookError(f"{method}: parameter {name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
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


def _instantiate(meta: dict, device: str | None) -> "Detector":
    module, qual = meta["class"].split(":")
    if not module.startswith("defectbook."):
        raise DefectbookError(f"refusing to load detector class {meta['class']!r} from outside defectbook")
    klass = getattr(importlib.import_module(module), qual)
    params = dict(meta["params"])
    if device is not None:
        params["device"] = device
    return klass(**params)


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
        det = _instantiate(json.loads(v["__detector__"]), override)
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
