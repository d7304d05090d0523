"""The protocol every detector follows (scikit-learn style).

* parameters in ``__init__`` (plain values, so a config dict can build the detector);
* ``fit(images) -> self`` with ``images`` a float tensor ``[N, 3, H, W]`` in ``[0, 1]``
  (defect-free or, for the noisy protocol, mostly defect-free training images);
* ``predict(images) -> Prediction`` with ``image_scores [B]`` (higher = more anomalous) and
  ``maps [B, H, W]`` at input resolution (``None`` for image-level-only methods);
* ``save(path)`` / ``Detector.load(path)``: a fitted detector kept on disk (a folder with
  ``params.json``, the method's registered name, the constructor's arguments, the code version and
  the SHA-256 of the state, itself checksummed; and ``state.pt``, the detector's ``state_dict()``:
  a detector is an ``nn.Module`` whose fitted tensors are buffers and trained networks submodules,
  written with ``torch.save`` and read back with ``weights_only=True``: no pickled code). Frozen
  pretrained networks are rebuilt from the parameters, not stored.

Loading runs no code named by the folder: a model is rebuilt only as the registered class of its
method (:data:`defectbook.methods.REGISTRY`), through :func:`defectbook.methods.build`, so its
parameters are validated exactly as for a new detector (an ensemble builds its members from its
own parameters); then ``load_state_dict`` fills it, strictly (every saved tensor has its place).
"""
from __future__ import annotations

import hashlib
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
from ..components.fitted import FittedModule, from_plain, to_plain
from ..utils import resolve_device
from .registry import REGISTRY, build, method_of

#: bump when the layout of saved models changes
MODEL_FORMAT = 3
#: the modules whose code decides what a fitted model holds (their source is hashed into the code version)
_MODEL_CODE = ("methods", "components/backbones.py", "components/features.py", "components/fitted.py",
               "components/gaussian.py",
               "components/memory.py", "components/flows.py", "components/losses.py", "components/perceptual.py",
               "utils.py")


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


class Detector(FittedModule):
    """Base class: input checks, batching, the fitted flag, saving and loading. Subclasses implement
    ``_fit(images)`` and ``_predict(images) -> Prediction``.

    A detector is an ``nn.Module``: a fitted tensor (a public attribute ending in ``_``) becomes a
    buffer, a trained network a submodule, so the fitted state is ``state_dict()``; other fitted values
    (numbers, sizes, lists, NumPy arrays) are its extra state. Subclasses name in ``_rebuilt`` the
    fitted attributes that ``_rebuild()`` recreates from the parameters on load (frozen backbones,
    optimisers, discriminators, what is refitted from stored values): these are kept out of the state."""

    name = "detector"
    batch_size: int = 16
    #: fitted attributes not stored by :meth:`save` (recreated by :meth:`_rebuild` on load)
    _rebuilt: tuple[str, ...] = ("device_",)

    def __new__(cls, *args, **kwargs):
        # remember the constructor's arguments (what a saved model is rebuilt from)
        obj = super().__new__(cls)
        nn.Module.__init__(obj)          # subclasses set plain parameters in __init__ without super().__init__()
        sig = inspect.signature(cls.__init__)
        params = {}
        for k, v in list(sig.bind_partial(None, *args, **kwargs).arguments.items())[1:]:
            params.update(v if sig.parameters[k].kind is inspect.Parameter.VAR_KEYWORD else {k: v})
        obj._init_params = params
        return obj

    def __setattr__(self, name: str, value) -> None:
        if (_fitted_name(name) and name in type(self)._rebuilt) or (
                name.startswith("_") and isinstance(value, (nn.Module, torch.Tensor))):
            self._modules.pop(name, None)
            self._buffers.pop(name, None)
            object.__setattr__(self, name, value)     # rebuilt parts and private caches: never in the state
        elif _fitted_name(name) and isinstance(value, torch.Tensor) and not isinstance(value, nn.Parameter):
            if name not in self._buffers:
                self.__dict__.pop(name, None)
            self.register_buffer(name, value)
        elif name in self._buffers and value is not None:   # a fitted tensor replaced by another kind of value
            del self._buffers[name]
            super().__setattr__(name, value)
        else:
            super().__setattr__(name, value)

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
    def get_extra_state(self) -> dict:
        """The fitted values that are neither buffers nor submodules (less :attr:`_rebuilt`), in a form
        ``torch.load(weights_only=True)`` reads."""
        skip = set(type(self)._rebuilt) | {"fitted_"}
        empty = {k: None for k, v in self._buffers.items() if v is None and _fitted_name(k)}   # not in state_dict
        return to_plain(empty | {k: v for k, v in vars(self).items() if _fitted_name(k) and k not in skip})

    def set_extra_state(self, state: dict) -> None:
        """Set the stored fitted values; only fitted names (public, ending in ``_``, not rebuilt) are
        accepted, so a state file cannot change a parameter or a method."""
        if not isinstance(state, dict):
            raise DefectbookError(f"{self.name}: the stored fitted values are not a mapping")
        bad = [k for k in state if not (isinstance(k, str) and _fitted_name(k)) or k in type(self)._rebuilt]
        if bad:
            raise DefectbookError(f"{self.name}: the stored state names {', '.join(map(repr, bad))}, which are not "
                                  f"fitted values: refused")
        for k, v in from_plain(state, getattr(self, "device_", "cpu")).items():
            setattr(self, k, v)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # the fitted values first (they size what _rebuild makes), then the rebuilt parts and submodules,
        # then the ordinary copy; torch loads the submodules made here afterwards
        if hasattr(self, "device"):
            self.device_ = resolve_device(self.device)
        if prefix + "_extra_state" in state_dict:
            self.set_extra_state(state_dict[prefix + "_extra_state"])
        for key, saved in state_dict.items():
            name = key[len(prefix):]
            if key.startswith(prefix) and "." not in name and _fitted_name(name) and name not in type(self)._rebuilt:
                setattr(self, name, saved.to(getattr(self, "device_", "cpu")))   # a fitted buffer, any shape
        self._rebuild()
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        self.fitted_ = True

    def _rebuild(self) -> None:
        """Recreate the :attr:`_rebuilt` attributes and the (still untrained) submodules after the stored
        values are set, before their weights are loaded (default: nothing)."""

    def _loaded(self) -> None:
        """Restore what the stored state implies but does not hold, after :meth:`load` (default: nothing)."""

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
            try:
                state = {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in self.state_dict().items()}
            except TypeError as e:
                raise DefectbookError(f"{self.name}: {e}") from None
            torch.save(state, tmp / "state.pt")
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
        try:
            det.load_state_dict(state)
        except (RuntimeError, TypeError, ValueError, KeyError, AttributeError) as e:
            raise DefectbookError(f"{path / 'state.pt'} does not fit a {meta['method']} built with its "
                                  f"saved parameters ({str(e).splitlines()[0][:300]}): fit it again") from None
        det.eval()
        for m in det.modules():
            if isinstance(m, Detector):
                if hasattr(m, "device_"):
                    m.to(m.device_)
                m._loaded()
        det._saved_meta = meta
        return det


def _fitted_name(name: str) -> bool:
    """A fitted attribute's name: public, ending in ``_`` (scikit-learn's convention)."""
    return name.endswith("_") and not name.startswith("_")


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
def state_nbytes(detector: "Detector") -> int:
    """Bytes of the tensors :meth:`Detector.save` would write (buffers, module weights, stored arrays)."""
    def size(v) -> int:
        if isinstance(v, torch.Tensor):
            return v.numel() * v.element_size()
        if isinstance(v, (list, tuple)) and not isinstance(v, torch.Size):
            return sum(size(x) for x in v)
        if isinstance(v, dict):
            return sum(size(x) for x in v.values())
        return 0
    return size(detector.state_dict())


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
