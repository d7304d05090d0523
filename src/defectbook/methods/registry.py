"""The method table: each method's name, class, display label and record version, and
``build(name, **params)``.

A detector class registers itself where it is defined, ``@register("padim", label="PaDiM")`` (timm's
``@register_model`` style); :mod:`defectbook.methods` imports every method module, so the table is
complete once the package is imported. This module imports no detector module (nor ``base``), so
``base`` can check a saved model's class against the table without an import cycle.
:data:`REGISTRY`, :data:`RECORD_VERSIONS` and :data:`LABELS` are read-only views of the table.
"""
from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass

from .. import DefectbookError


@dataclass(frozen=True)
class Method:
    """One registered method. ``record_version``: the version of what its records hold; bump it when a
    method's record changes content (numbers or fields) without a config change, so that cached
    records are recomputed (None: never bumped, no salt in the record key)."""

    name: str
    klass: type
    label: str
    record_version: int | None = None

    @property
    def target(self) -> str:
        """``"module:Class"``: how a saved model names its class."""
        return f"{self.klass.__module__}:{self.klass.__qualname__}"


#: method name -> its entry, in registration order
_METHODS: dict[str, Method] = {}


def register(name: str, *, label: str, record_version: int | None = None):
    """Class decorator: enter the detector class under ``name`` (once) with its display ``label`` and
    record version."""
    def add(klass: type) -> type:
        if name in _METHODS:
            raise ValueError(f"method {name!r} is registered twice ({_METHODS[name].target}, {klass.__qualname__})")
        _METHODS[name] = Method(name, klass, label, record_version)
        return klass
    return add


def method(name: str) -> Method:
    """The entry of method ``name``; a clear error for unknown names."""
    if name not in _METHODS:
        raise DefectbookError(f"unknown method {name!r}; known: {', '.join(sorted(_METHODS))}")
    return _METHODS[name]


def method_of(klass: type) -> Method | None:
    """The entry whose class is exactly ``klass`` (None: not a registered class)."""
    return next((m for m in _METHODS.values() if m.klass is klass), None)


class _View(Mapping):
    """Read-only ``name -> field`` view of the table (entries whose field is None left out)."""

    def __init__(self, field: str) -> None:
        self._field = field

    def _items(self) -> dict:
        return {n: v for n, m in _METHODS.items() if (v := getattr(m, self._field)) is not None}

    def __getitem__(self, name: str):
        return self._items()[name]

    def __iter__(self):
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __repr__(self) -> str:
        return repr(self._items())


#: method name -> "module:Class"
REGISTRY: Mapping[str, str] = _View("target")
#: method name -> record version, for the methods that have one
RECORD_VERSIONS: Mapping[str, int] = _View("record_version")
#: method name -> display name (tables, legends)
LABELS: Mapping[str, str] = _View("label")


def build(name: str, **params):
    """Build detector ``name`` (a :class:`~defectbook.methods.base.Detector`) with ``params``; a clear error
    for unknown names and parameters."""
    klass = method(name).klass
    known = parameter_names(klass)
    unknown = sorted(set(params) - known) if known is not None else []
    if unknown:
        raise DefectbookError(f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for method "
                              f"{name!r}; known: {', '.join(sorted(known))}")
    return klass(**params)


def parameters(method_or_class: str | type) -> dict[str, inspect.Parameter]:
    """``name -> Parameter`` of a detector's ``__init__`` (a registered method's name or a class),
    following ``**kw`` up the base classes (a subclass's parameter first). A chain that ends in
    ``**kw`` (open-ended) keeps that last ``VAR_KEYWORD`` parameter under its own name."""
    klass = method(method_or_class).klass if isinstance(method_or_class, str) else method_or_class
    out: dict[str, inspect.Parameter] = {}
    var = None
    for k in klass.__mro__:
        if "__init__" not in vars(k):
            continue
        var = None
        for p in list(inspect.signature(vars(k)["__init__"]).parameters.values())[1:]:
            if p.kind is p.VAR_KEYWORD:
                var = p
            elif p.kind is not p.VAR_POSITIONAL:
                out.setdefault(p.name, p)
        if var is None:
            return out
    if var is not None:
        out.setdefault(var.name, var)
    return out


def parameter_names(method_or_class: str | type) -> set[str] | None:
    """Names a detector's ``__init__`` accepts (a registered method's name or a class; following ``**kw``
    up the base classes); None if open-ended."""
    sig = parameters(method_or_class)
    if any(p.kind is p.VAR_KEYWORD for p in sig.values()):
        return None
    return set(sig)
