"""Parameter profiles: ``smoke`` (CI), ``cpu`` (default book build on 2 cores), ``paper`` (GPU server).

Each method family owns one YAML file in this folder with top-level keys ``smoke``, ``cpu`` and
``paper``; ``common.yaml`` holds the data settings. :func:`load` merges them all::

    P = profiles.load("cpu")
    P["data"]         # synthetic generator settings and categories
    P["padim"]        # PaDiM's settings in this profile
"""
from __future__ import annotations

from pathlib import Path

import yaml

from .. import DefectbookError

PROFILES = ("smoke", "cpu", "paper")
_HERE = Path(__file__).parent


def load(profile: str) -> dict:
    """All settings of ``profile`` as one dict (families as keys, ``common.yaml`` merged at the top)."""
    if profile not in PROFILES:
        raise DefectbookError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    out: dict = {"profile": profile}
    for f in sorted(_HERE.glob("*.yaml")):
        doc = yaml.safe_load(f.read_text()) or {}
        missing = [p for p in PROFILES if p not in doc]
        if missing:
            raise DefectbookError(f"profile file {f.name} lacks {', '.join(missing)}")
        if f.stem == "common":
            out.update(doc[profile])
        else:
            out[f.stem] = doc[profile]
    return out
