"""The protocol every detector follows (scikit-learn style).

* parameters in ``__init__`` (plain values, so a config dict can build the detector);
* ``fit(images) -> self`` with ``images`` a float tensor ``[N, 3, H, W]`` in ``[0, 1]``
  (defect-free or, for the noisy protocol, mostly defect-free training images);
* ``predict(images) -> Prediction`` with ``image_scores [B]`` (higher = more anomalous) and
  ``maps [B, H, W]`` at input resolution (``None`` for image-level-only methods).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from .. import DefectbookError


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
    """Base class: input checks, batching and the fitted flag. Subclasses implement
    ``_fit(images)`` and ``_predict(images) -> Prediction``."""

    name = "detector"
    batch_size: int = 16

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
