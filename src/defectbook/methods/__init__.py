"""Detector registry: ``build(name, **params)`` makes any method of the book from a config."""
from __future__ import annotations

import importlib

from .. import DefectbookError
from .base import Detector, Prediction

#: method name -> "module:Class" (imported lazily so one broken optional method never breaks the rest)
REGISTRY: dict[str, str] = {
    "padim": "defectbook.methods.padim:PaDiM",
    "differnet": "defectbook.methods.differnet:DifferNet",
    "knn": "defectbook.methods.knn:NearestNeighbor",
    "ocsvm": "defectbook.methods.knn:OCSVM",
    "trustmae": "defectbook.methods.trustmae:TrustMAE",
    "memae": "defectbook.methods.memae:MemAE",
    "ae_l2": "defectbook.methods.autoencoders:AEL2",
    "ae_ssim": "defectbook.methods.autoencoders:AESSIM",
    "npad": "defectbook.methods.npad:NPad",
    "patchcore": "defectbook.methods.patchcore:PatchCore",
    "spade": "defectbook.methods.spade:SPADE",
    "ensemble": "defectbook.methods.ensemble:SizeEnsemble",
    "ndpnet": "defectbook.methods.ndpnet:NDPNet",
}

#: method name -> version of what its records hold; bump it when a method's record changes content
#: (numbers or fields) without a config change, so that cached records are recomputed
RECORD_VERSIONS: dict[str, int] = {"npad": 2}


def build(name: str, **params) -> Detector:
    """Build detector ``name`` with ``params``; a clear error for unknown names."""
    if name not in REGISTRY:
        raise DefectbookError(f"unknown method {name!r}; known: {', '.join(sorted(REGISTRY))}")
    module, cls = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)(**params)


__all__ = ["Detector", "Prediction", "RECORD_VERSIONS", "REGISTRY", "build"]
