"""The phase clock: seconds per named phase accumulated in this process.

:class:`~defectbook.components.backbones.FeatureExtractor` adds its feature-extraction time
(``clock.add("features", s)``); :func:`defectbook.pipeline.run.run` reads it before and after each
phase, and the build report (:mod:`defectbook.book.buildreport`) shows the result."""
from __future__ import annotations

import threading
from collections import defaultdict


class Clock:
    """Seconds per named phase accumulated in this process (thread-safe, a few ns per add)."""

    def __init__(self):
        self._s: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    def add(self, phase: str, seconds: float) -> None:
        with self._lock:
            self._s[phase] += seconds

    def get(self, phase: str) -> float:
        return self._s.get(phase, 0.0)


clock = Clock()
