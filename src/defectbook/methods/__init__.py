"""Detectors: :mod:`.base` (the protocol every detector follows), :mod:`.registry` (names, classes,
``build``) and one module per method."""
from __future__ import annotations

from .base import Detector, Prediction
from .registry import RECORD_VERSIONS, REGISTRY, build, parameter_names

__all__ = ["Detector", "Prediction", "RECORD_VERSIONS", "REGISTRY", "build", "parameter_names"]
