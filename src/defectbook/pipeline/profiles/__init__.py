"""Parameter profiles: ``smoke`` (CI), ``cpu`` (default book build on 2 cores), ``paper`` (GPU server).

``common.yaml`` and one file per chapter, each with top-level keys ``smoke``, ``cpu`` and ``paper``;
the schema, its validation and the config builder live in :mod:`defectbook.pipeline.spec`::

    P = profiles.load("cpu")
    P["data"]                        # the primary dataset (synthetic generator settings)
    P["padim"]["methods"]["padim"]   # PaDiM's parameters in this profile
"""
from __future__ import annotations

from ..spec import PROFILES, load

__all__ = ["PROFILES", "load"]
