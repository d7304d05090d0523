"""Detectors: :mod:`.base` (the protocol every detector follows), :mod:`.registry` (the method table,
``build``) and one module per method, each registering its class with ``@register``.

Importing this package imports every method module, so that the table is complete."""
from __future__ import annotations

from . import (  # noqa: F401 - imported for their @register lines
    autoencoders,
    differnet,
    ensemble,
    knn,
    memae,
    ndpnet,
    npad,
    padim,
    patchcore,
    spade,
    trustmae,
)
from .base import Detector, Prediction
from .registry import LABELS, RECORD_VERSIONS, REGISTRY, build, parameter_names, parameters

__all__ = ["Detector", "LABELS", "Prediction", "RECORD_VERSIONS", "REGISTRY", "build", "parameter_names",
           "parameters"]
