"""The method registry: each method's name and class, and ``build(name, **params)``.

It imports no detector module at the top (classes are imported when built), so ``base`` can check a
saved model's class against it without an import cycle.
"""
from __future__ import annotations

import importlib
import inspect

from .. import DefectbookError

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
RECORD_VERSIONS: dict[str, int] = {"npad": 2, "differnet": 2, "trustmae": 2}


def build(name: str, **params):
    """Build detector ``name`` (a :class:`~defectbook.methods.base.Detector`) with ``params``; a clear error
    for unknown names and parameters."""
    if name not in REGISTRY:
        raise DefectbookError(f"unknown method {name!r}; known: {', '.join(sorted(REGISTRY))}")
    module, cls = REGISTRY[name].split(":")
    klass = getattr(importlib.import_module(module), cls)
    known = parameter_names(klass)
    unknown = sorted(set(params) - known) if known is not None else []
    if unknown:
        raise DefectbookError(f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for method "
                              f"{name!r}; known: {', '.join(sorted(known))}")
    return klass(**params)


def parameter_names(klass) -> set[str] | None:
    """Names ``klass(**params)`` accepts (following ``**kw`` up the base classes); None if open-ended."""
    names: set[str] = set()
    for k in klass.__mro__:
        if "__init__" not in vars(k):
            continue
        sig = inspect.signature(vars(k)["__init__"])
        names |= {n for n, p in sig.parameters.items() if n != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        if not any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
            return names
    return None
