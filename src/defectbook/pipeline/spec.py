"""The experiment spec: the profile schema, its validation, and the one experiment-config builder.

Profiles
--------
``smoke`` (CI), ``cpu`` (default book on 2 cores), ``paper`` (GPU server, the papers' settings). The
folder ``defectbook/pipeline/profiles`` holds ``common.yaml`` and one file per chapter (``padim``, ``npad``,
``differnet``, ``trustmae``, ...); every file has the top-level keys ``smoke``, ``cpu`` and
``paper``. :func:`load` reads and validates them all; any error (unknown key, missing key or method,
wrong type) is a :class:`~defectbook.DefectbookError` naming the file and the key path.

``common.yaml``, per profile (all keys required)::

    data:            {dataset: synthetic | mvtec | ..., <generator settings for synthetic>}
                     # the profile's primary dataset: the one a chapter's ``categories`` name
    real:            [mtd, dagm, ...]   # real datasets chapters add where found under the data root
    real_max_train:  int | null         # cap on real training images (test: 4x); smoke only
    device:          cpu | auto | cuda  # copied into every experiment config (top-level key ``device``)
    seeds:           [int, ...]

``<chapter>.yaml``, per profile::

    methods:           {method: {param: value, ...}}   # required; registered methods; params are
                                                       # checked against the detector's __init__
    transform:         {resize: int, crop: int | null} # required; every method's image transform
    categories:        [name, ...] | all               # required; categories of the primary dataset
    method_transforms: {method: transform}             # optional; per-method transform
    datasets:          {dataset: {transform: .., params: {..}, split: {..}, categories: [..]}}
                                                       # optional; settings for one (real) dataset:
                                                       # its transform, params every method gets there,
                                                       # split caps (max_train, max_test), the
                                                       # categories the chapter uses (default: all)
    category_params:   [{categories: [..], methods: [..] (optional: all), params: {..}}, ...]
                                                       # optional; params for some categories
    data:              {generator settings}            # optional; override common's synthetic data
    real:              [dataset, ...]                  # optional; replaces common's ``real``
    grids:             {name: value}                   # optional; the chapter's notebook grids: free
                                                       # form, but the same names and kinds (list,
                                                       # mapping, scalar) in every profile of the file
    compare:           [method, ...]                   # optional; methods the chapter runs with their
                                                       # own chapter's params (a comparison chapter,
                                                       # e.g. the benchmark, whose ``methods`` may then
                                                       # be ``{}``: it sets up no method of its own)

The ``ensemble`` method's params (``method``, ``sizes``) are laid over its member method's params.

Configs
-------
:func:`make_config` is the one function that makes experiment configs (see :mod:`defectbook.pipeline.run`):
``make_config(profile, chapter, method, dataset, category, overrides, ...)`` takes the method's params
from the chapter, then ``category_params`` rules, then ``datasets[dataset].params``, then
``overrides``. :class:`Chapter` (``spec.chapter("npad", profile, ...)``, the notebooks' preamble)
loops it over categories, real datasets and seeds; a notebook reads its grids from ``S.grids`` and
asks ``S.configs(method, categories=..., real=..., split=..., **params)`` (many) or
``S.config(method, dataset, category, ...)`` (one); a method the chapter does not list (a compared
method) takes its own chapter's params and transform but this chapter's data and split caps, so
that every method of a comparison sees the same images; ``S.pairs()`` lists the chapter's
``(dataset, category)`` pairs; ``S.noisy(r)`` is TrustMAE's noisy split with one
test set for every ratio. ``defectbook evaluate`` calls :func:`make_config` with the method's own chapter
(:func:`default_chapter`, or ``--chapter``).

Porting a chapter file written before this schema: ``params:`` -> ``methods: {<method>: ...}``;
baselines' shared kwargs -> one ``methods`` entry each; ``<dataset>_transform`` / per-dataset
params -> ``datasets.<dataset>``; per-model transforms -> ``method_transforms``; parameter choices
by category -> ``category_params``; every other key (sweeps, category lists) -> ``grids``, present
in all three profiles. Every config carries ``device`` (the profile's),
``profile`` and ``spec: {"chapter": ...}`` (neither hashed); :func:`differences` names what a
record's params change against its profile (the provenance line prints it).

Dry run
-------
With ``DEFECTBOOK_DRY_RUN=1`` (``defectbook reproduce --profile paper --dry-run``) every config keeps
the profile's architecture (backbones, layers, feature dims, image sizes) but is capped
(:data:`DRY_RUN`: a few images, one epoch, few test transforms), grids are thinned to their ends,
backbones use random weights (``weights: random``, labelled in the record and the provenance line)
and configs carry ``dry_run: true`` (hashed: a dry-run record never stands in for a real one).
"""
from __future__ import annotations

import copy
import inspect
from functools import lru_cache
from pathlib import Path

import yaml

from .. import DefectbookError, settings
from ..components.backbones import SPECS
from ..data import elpv
from ..data.synthetic import CATEGORIES
from ..methods import REGISTRY, registry
from ..paths import data_root as default_data_root

PROFILES = ("smoke", "cpu", "paper")
PROFILE_DIR = Path(__file__).parent / "profiles"

COMMON_KEYS = {"data": dict, "real": list, "real_max_train": (int, type(None)), "device": str, "seeds": list}
CHAPTER_REQUIRED = {"methods": dict, "transform": dict, "categories": (list, str)}
CHAPTER_OPTIONAL = {"method_transforms": dict, "datasets": dict, "category_params": list, "data": dict,
                    "real": list, "grids": dict, "compare": list}
TRANSFORM_KEYS = {"resize": (int, type(None)), "crop": (int, type(None))}
DATASET_KEYS = {"transform": dict, "params": dict, "split": dict, "categories": list}
RULE_KEYS = {"categories": list, "methods": list, "params": dict}

#: Display names of the methods (tables, legends), from their ``@register`` lines.
LABELS: dict[str, str] = dict(registry.LABELS)

#: Dry-run caps: images per split, and params capped where a method takes them (value: the cap).
#: ``d`` (the Gaussian methods' kept channels): the per-position covariances at the paper's d = 550
#: on 56 x 56 maps take minutes per config on 2 cores, so the dry run first checks that the paper's
#: d selects from the backbone's channels (d below their number, else the channel rule has nothing
#: to choose: an error) and then keeps 64 of them. ``shift``: N-pad scores 4 s + 1 shifted copies of
#: every test image through the backbone (17 at the paper's s = 4); the dry run shifts by 1 (5 copies).
#: ``batch_size``, ``feature_batch``: a backbone pass pads its last batch to the full batch size (same scores
#: wherever an image falls), so 4 images at the paper's batch of 32 would cost 32 images' convolutions.
DRY_RUN = {"max_train": 4, "max_test": 4,
           "params": {"epochs": 1, "max_steps": 2, "test_transforms": 2, "train_bank": 2, "snapshots": 1,
                      "localize_transforms": 2, "kmeans_iters": 1, "k_images": 2, "d": 64, "shift": 1,
                      "batch_size": 4, "feature_batch": 4}}


def dry_run() -> bool:
    """Whether this process runs the paper-profile dry run (``DEFECTBOOK_DRY_RUN=1``)."""
    return settings.dry_run()


# --- schema and validation ----------------------------------------------------------------------

def _kind(v) -> str:
    return "mapping" if isinstance(v, dict) else "list" if isinstance(v, list) else "scalar"


def _check(where: str, key: str, value, types) -> None:
    types = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types) or (float in types and isinstance(value, int))
    if not ok:
        names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
        raise DefectbookError(f"{where}: key {key!r} must be {names}, got {value!r}")


def _keys(where: str, d: dict, required: dict, optional: dict | None = None) -> None:
    optional = optional or {}
    for k in d:
        if k not in required and k not in optional:
            raise DefectbookError(f"{where}: unknown key {k!r}; known: {', '.join(list(required) + list(optional))}")
    for k, t in required.items():
        if k not in d:
            raise DefectbookError(f"{where}: missing key {k!r}")
        _check(where, k, d[k], t)
    for k, t in optional.items():
        if k in d:
            _check(where, k, d[k], t)


@lru_cache(maxsize=None)
def method_signature(method: str) -> dict[str, inspect.Parameter]:
    """``name -> Parameter`` of a registered detector's ``__init__``, following ``**kw`` up the MRO
    (:func:`defectbook.methods.registry.parameters`). A method whose chain ends in ``**params``
    (``ensemble``) gets the key ``"**"``."""
    sig = registry.parameters(method)
    out = {n: p for n, p in sig.items() if p.kind is not p.VAR_KEYWORD}
    if len(out) < len(sig):
        out["**"] = None  # type: ignore[assignment]
    return out


_ANN = {"int": (int,), "float": (float, int), "str": (str,), "bool": (bool,), "None": (type(None),)}


def _allowed(p: inspect.Parameter):
    """Types a parameter accepts, read from its annotation (None: anything)."""
    ann = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", None)
    if not ann or ann is inspect.Parameter.empty:
        return None
    out: tuple = ()
    for part in (s.strip() for s in str(ann).split("|")):
        if part.startswith(("Sequence", "list", "tuple")):
            out += (list, tuple)
        elif part in _ANN:
            out += _ANN[part]
        else:
            return None
    if p.default is None:
        out += (type(None),)
    return out


def check_profile_params(method: str, params: dict, where: str = "") -> None:
    """Every key of ``params`` is a parameter of ``method``'s ``__init__`` and has its type."""
    sig = method_signature(method)
    where = where or f"method {method}"
    for k, v in params.items():
        if k in ("seed",) or "**" in sig and k not in sig:
            continue
        if k not in sig:
            known = ", ".join(n for n in sig if n != "**")
            raise DefectbookError(f"{where}: {method} has no parameter {k!r}; known: {known}")
        types = _allowed(sig[k])
        if types is not None:
            if isinstance(v, bool) and bool not in types:
                raise DefectbookError(f"{where}: {method} parameter {k!r} must not be a boolean, got {v!r}")
            if not isinstance(v, types):
                raise DefectbookError(f"{where}: {method} parameter {k!r} has the wrong type: {v!r} "
                                      f"({sig[k].annotation})")


def _validate_transform(where: str, t: dict) -> None:
    _keys(where, t, {"resize": TRANSFORM_KEYS["resize"]}, {"crop": TRANSFORM_KEYS["crop"]})


def validate_chapter(file: str, profile: str, sec) -> None:
    """Raise a :class:`DefectbookError` naming ``file`` and the key for any schema violation."""
    where = f"{file} [{profile}]"
    if not isinstance(sec, dict):
        raise DefectbookError(f"{where}: a profile section must be a mapping")
    _keys(where, sec, CHAPTER_REQUIRED, CHAPTER_OPTIONAL)
    if not sec["methods"] and not sec.get("compare"):
        raise DefectbookError(f"{where}: key 'methods' names no method")
    for m in sec.get("compare", []):
        try:
            method_signature(m)  # a registered method (its own chapter is looked up when a config is built)
        except DefectbookError as e:
            raise DefectbookError(f"{where}: compare: {e}") from None
        if m in sec["methods"]:
            raise DefectbookError(f"{where}: compare: {m!r} is set up by this chapter's methods; list it once")
    for m, p in sec["methods"].items():
        if not isinstance(p, dict):
            raise DefectbookError(f"{where}: methods.{m} must be a mapping of parameters")
        try:
            check_profile_params(m, p, f"{where} methods.{m}")
        except DefectbookError as e:
            if "unknown method" in str(e):
                raise DefectbookError(f"{where}: methods.{m}: {e}") from None
            raise
    _validate_transform(f"{where} transform", sec["transform"])
    if isinstance(sec["categories"], str) and sec["categories"] != "all":
        raise DefectbookError(f"{where}: key 'categories' must be a list or 'all', got {sec['categories']!r}")
    for m, t in sec.get("method_transforms", {}).items():
        if m not in sec["methods"]:
            raise DefectbookError(f"{where}: method_transforms.{m}: not a method of this chapter")
        _validate_transform(f"{where} method_transforms.{m}", t)
    for ds, d in sec.get("datasets", {}).items():
        _keys(f"{where} datasets.{ds}", d, {}, DATASET_KEYS)
        if "transform" in d:
            _validate_transform(f"{where} datasets.{ds}.transform", d["transform"])
        for m in sec["methods"]:
            if m != "ensemble":
                check_profile_params(m, d.get("params", {}), f"{where} datasets.{ds}.params")
        _keys(f"{where} datasets.{ds}.split", d.get("split", {}), {},
              {"max_train": (int, type(None)), "max_test": (int, type(None))})
    for i, rule in enumerate(sec.get("category_params", [])):
        w = f"{where} category_params[{i}]"
        if not isinstance(rule, dict):
            raise DefectbookError(f"{w}: must be a mapping")
        _keys(w, rule, {"categories": list, "params": dict}, {"methods": list})
        for m in rule.get("methods", list(sec["methods"])):
            if m not in sec["methods"]:
                raise DefectbookError(f"{w}: methods: {m!r} is not a method of this chapter")
            check_profile_params(m, rule["params"], w)


@lru_cache(maxsize=None)
def _read(path: str) -> dict:
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise DefectbookError(f"profile file {p.name} is not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise DefectbookError(f"profile file {p.name} must be a mapping of profiles")
    for k in doc:
        if k not in PROFILES:
            raise DefectbookError(f"profile file {p.name}: unknown key {k!r}; known: {', '.join(PROFILES)}")
    missing = [q for q in PROFILES if q not in doc]
    if missing:
        raise DefectbookError(f"profile file {p.name} lacks {', '.join(missing)}")
    if p.stem == "common":
        for q in PROFILES:
            _keys(f"{p.name} [{q}]", doc[q] or {}, COMMON_KEYS)
            if "dataset" not in doc[q]["data"]:
                raise DefectbookError(f"{p.name} [{q}] data: missing key 'dataset'")
        return doc
    for q in PROFILES:
        validate_chapter(p.name, q, doc[q])
    grids = {q: doc[q].get("grids", {}) for q in PROFILES}
    for q in PROFILES:
        for g, v in grids[q].items():
            for o in PROFILES:
                if g not in grids[o]:
                    raise DefectbookError(f"{p.name} [{o}] grids: missing key {g!r} (profile {q} has it)")
                w = grids[o][g]
                if v is not None and w is not None and _kind(v) != _kind(w) and not \
                        ({_kind(v), _kind(w)} == {"list", "scalar"} and "all" in (v, w)):
                    raise DefectbookError(f"{p.name} grids.{g}: a {_kind(v)} in {q} but a {_kind(w)} in {o}")
    return doc


def chapters() -> list[str]:
    """Names of the chapter profile files."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml") if p.stem != "common")


def load(profile: str) -> dict:
    """All settings of ``profile``: common.yaml's keys at the top, each chapter's section under its name."""
    if profile not in PROFILES:
        raise DefectbookError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    out = {"profile": profile, **copy.deepcopy(_read(str(PROFILE_DIR / "common.yaml"))[profile])}
    for c in chapters():
        out[c] = copy.deepcopy(_read(str(PROFILE_DIR / f"{c}.yaml"))[profile])
    return out


def method_chapters(method: str) -> list[str]:
    """Chapters whose profile files set up ``method`` (its own chapter first)."""
    found = [c for c in chapters() if method in _read(str(PROFILE_DIR / f"{c}.yaml"))["cpu"]["methods"]]
    return sorted(found, key=lambda c: c != method)


def default_chapter(method: str) -> str:
    found = method_chapters(method)
    if not found:
        known = sorted(m for m in REGISTRY if method_chapters(m))
        raise DefectbookError(f"no profile sets up method {method!r}; known: {', '.join(known)}")
    return found[0]


# --- categories and datasets --------------------------------------------------------------------

def available_real(names, data_root=None) -> list[tuple[str, str | None]]:
    """``(dataset, category)`` pairs of the real datasets among ``names`` found under the data root (ELPV:
    its two module types when the ``elpv-dataset`` package is installed, whatever the data root)."""
    root = data_root or default_data_root()
    found: list = []
    root = Path(root) if root is not None else None
    for name in names or []:
        if root is None and name != "elpv":
            continue
        if name == "mtd" and ((root / "mtd" / "MT_Free").is_dir() or (root / "MT_Free").is_dir()):
            found.append(("mtd", None))
        elif name == "mvtec" and (root / "mvtec").is_dir():
            found += [("mvtec", p.name) for p in sorted((root / "mvtec").iterdir()) if (p / "train").is_dir()]
        elif name == "elpv":   # the installed package, wherever the data root is
            found += [("elpv", c) for c in elpv.CATEGORIES] if elpv.available() else []
        elif name == "dagm" and (root / "dagm").is_dir():
            found += [("dagm", p.name) for p in sorted((root / "dagm").iterdir(), key=_class_order)
                      if (p / "Train").is_dir()]
    return found


def _class_order(p: Path):
    digits = "".join(ch for ch in p.name if ch.isdigit())
    return (int(digits) if digits else 0, p.name)


def primary_categories(P: dict, categories, data_root=None) -> list[tuple[str, str | None]]:
    """``(dataset, category)`` pairs of the profile's primary dataset: ``categories`` is a list of
    names or ``"all"``. Synthetic: generator categories (an unknown name is an error). Real: the
    categories found under the data root (``"all"`` = every one found)."""
    ds = P["data"]["dataset"]
    if ds == "synthetic":
        names = list(CATEGORIES) if categories == "all" else list(categories)
        bad = [c for c in names if c not in CATEGORIES]
        if bad:
            raise DefectbookError(f"profile {P['profile']}: {bad[0]!r} is not a synthetic category; "
                                  f"known: {', '.join(CATEGORIES)}")
        return [("synthetic", c) for c in names]
    found = available_real([ds], data_root)
    return [(d, c) for d, c in found if categories == "all" or c in categories]


# --- the config builder -------------------------------------------------------------------------

def _thin(v):
    """A grid thinned for the dry run: a numeric list of more than three values (a sweep) to its
    ends, a mapping's such lists likewise; lists of names or settings (each a code path) stay whole."""
    if isinstance(v, list) and len(v) > 3 and all(isinstance(x, (int, float)) for x in v):
        return [v[0], v[-1]]
    if isinstance(v, dict) and all(isinstance(x, list) for x in v.values()):
        return {k: _thin(x) for k, x in v.items()}
    return v


def base_params(P: dict, chapter: str, method: str, dataset: str | None = None, category: str | None = None) -> dict:
    """The profile's params of ``method`` in ``chapter`` for one dataset and category (no overrides)."""
    if chapter not in P:
        raise DefectbookError(f"unknown chapter {chapter!r}; known: {', '.join(chapters())}")
    sec = P[chapter]
    if method not in sec["methods"]:
        raise DefectbookError(f"chapter {chapter!r} of profile {P['profile']!r} has no method {method!r}; "
                              f"known: {', '.join(sec['methods'])}")
    params = dict(sec["methods"][method])
    if method == "ensemble":
        inner = params.get("method", "npad")
        params = {**base_params(P, chapter, inner, dataset, category), **params}
    for rule in sec.get("category_params", []):
        if category in rule["categories"] and method in rule.get("methods", sec["methods"]):
            params.update(rule["params"])
    if dataset is not None:
        params.update(sec.get("datasets", {}).get(dataset, {}).get("params", {}))
    return params


def synthetic_data(P: dict, chapter: str) -> dict:
    """The synthetic generator settings of ``chapter`` in profile ``P`` (common's, then the chapter's ``data``)."""
    base = P["data"] if P["data"]["dataset"] == "synthetic" else load("cpu")["data"]
    return {k: v for k, v in base.items() if k != "dataset"} | dict(P[chapter].get("data", {}))


def make_config(profile: str | dict, chapter: str, method: str, dataset: str, category: str | None = None,
          overrides: dict | None = None, *, split: dict | None = None, seed: int = 0, transform: dict | None = None,
          save_maps: int = 8, data_root=None) -> dict:
    """The experiment config of ``method`` on ``dataset:category`` with ``chapter``'s settings in ``profile``.

    Params: the chapter's, then its ``category_params`` and ``datasets`` entries, then ``overrides``.
    Transform: ``transform``, else the dataset's, else the method's, else the chapter's. Data: the
    synthetic generator settings (common's, then the chapter's ``data``) for synthetic data, none for
    real data. Split: ``split`` (default clean) with the profile's and the chapter's caps for real
    data (keys given in ``split`` win).
    """
    P = load(profile) if isinstance(profile, str) else profile
    params = {**base_params(P, chapter, method, dataset, category), **(overrides or {})}   # checks chapter, method
    sec = P[chapter]
    ds_set = sec.get("datasets", {}).get(dataset, {})
    transform = dict(transform or ds_set.get("transform") or sec.get("method_transforms", {}).get(method)
                     or sec["transform"])
    data = synthetic_data(P, chapter) if dataset == "synthetic" else {}
    split = dict(split or {"kind": "clean"})
    explicit = set(split)
    if dataset != "synthetic":
        cap = P.get("real_max_train")
        if cap:
            split.setdefault("max_train", cap)
            split.setdefault("max_test", 4 * cap)
        split.update({k: v for k, v in ds_set.get("split", {}).items() if v and k not in explicit})
    cfg = {"method": method, "params": params, "dataset": dataset, "category": category, "data": data,
           "split": split, "transform": transform, "seed": int(seed), "profile": P["profile"],
           "save_maps": save_maps, "data_root": str(data_root) if data_root else None,
           "device": P["device"], "spec": {"chapter": chapter}}
    if dry_run():
        _dry(cfg)
    return cfg


def _dry(cfg: dict) -> None:
    """Cap a config for the dry run (in place): see :data:`DRY_RUN`."""
    sig = method_signature(cfg["method"])
    inner = method_signature(cfg["params"].get("method", "npad")) if cfg["method"] == "ensemble" else {}
    p = cfg["params"]
    if isinstance(p.get("d"), int) and "layers" in p:
        total = backbone_channels(p.get("backbone", "efficientnet_lite0"), p["layers"])
        if p["d"] >= total:
            raise DefectbookError(f"{cfg['method']}: d={p['d']} keeps all {total} channels of {p.get('backbone')} "
                                  f"{'+'.join(p['layers'])}: no channel selection happens (choose d < {total})")
    for k, cap in DRY_RUN["params"].items():
        if k in sig or k in inner:
            p[k] = cap if p.get(k) is None else min(p[k], cap) if isinstance(p.get(k), (int, float)) else p[k]
    if "weights" in sig or "weights" in inner:
        p["weights"] = "random"
    if cfg["method"] in ("trustmae",) and p.get("feature_net") == "vgg19":
        p["feature_weights"] = "random"
    if "perceptual_weights" in sig and p.get("perceptual_net", "auto") != "offline":
        p["perceptual_weights"] = "random"
    s = cfg["split"]
    s["max_train"] = min(s.get("max_train") or DRY_RUN["max_train"], DRY_RUN["max_train"])
    s["max_test"] = min(s.get("max_test") or DRY_RUN["max_test"], DRY_RUN["max_test"])
    if s.get("kind") == "few_shot":
        s["n"] = min(int(s["n"]), DRY_RUN["max_train"])
    cfg["dry_run"] = True
    cfg["save_maps"] = min(cfg["save_maps"] or 0, 2)


def backbone_channels(backbone: str, layers) -> int:
    """Channels of ``layers`` of ``backbone`` together (from :data:`defectbook.components.backbones.SPECS`)."""
    if backbone not in SPECS:
        raise DefectbookError(f"unknown backbone {backbone!r}; known: {', '.join(SPECS)}")
    s = SPECS[backbone]
    try:
        return sum(s.layers[s.aliases.get(name, name)][1] for name in layers)
    except KeyError as e:
        raise DefectbookError(f"backbone {backbone} has no layer {e.args[0]!r}; known: "
                              f"{', '.join(list(s.aliases) + list(s.layers))}") from None


def differences(config: dict) -> dict:
    """Params of ``config`` that differ from its profile's for that method, chapter, dataset and
    category (``{name: value}``; a param the profile lacks counts as a difference)."""
    c = config
    chapter = (c.get("spec") or {}).get("chapter")
    try:
        P = load(c.get("profile") or "cpu")
        chapter = chapter or default_chapter(c["method"])
        base = base_params(P, chapter, c["method"], c.get("dataset"), c.get("category"))
    except DefectbookError:
        return {}
    ignore = {"seed", "device"} | (set(DRY_RUN["params"]) | {"weights", "feature_weights", "perceptual_weights"}
                                   if c.get("dry_run") else set())
    return {k: v for k, v in (c.get("params") or {}).items() if k not in ignore and base.get(k, object()) != v}


# --- the notebooks' preamble --------------------------------------------------------------------

class Chapter:
    """One chapter's settings in one profile: the notebooks' preamble, ``S = spec.chapter("npad", profile)``.

    ``S.P`` (all settings of the profile), ``S.section`` (the chapter's), ``S.grids`` (its grids,
    thinned in a dry run), ``S.seeds``, ``S.synthetic`` (primary dataset is synthetic),
    :meth:`params`, :meth:`categories`, :meth:`config` and :meth:`configs`. ``overrides``: params
    every config of the chapter gets (a notebook's ``-p`` parameters), for the methods that take them.
    """

    def __init__(self, name: str, profile: str = "cpu", data_root=None, seeds=None, overrides: dict | None = None):
        self.name, self.profile, self.data_root = name, profile, data_root
        self.P = load(profile)
        if name not in self.P:
            raise DefectbookError(f"unknown chapter {name!r}; known: {', '.join(chapters())}")
        self.section = self.P[name]
        self.dry_run = dry_run()
        self.grids = {k: _thin(v) for k, v in self.section.get("grids", {}).items()} if self.dry_run else \
            dict(self.section.get("grids", {}))
        self.seeds = list(seeds if seeds is not None else self.P["seeds"])
        if self.dry_run:
            self.seeds = self.seeds[:1]
        self.synthetic = self.P["data"]["dataset"] == "synthetic"
        self.overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        self.methods = list(self.section["methods"])
        self.compare = list(self.section.get("compare", []))   # methods run with their own chapter's params

    def params(self, method: str, category: str | None = None, dataset: str | None = None) -> dict:
        """The profile's params of ``method`` (for ``category`` / ``dataset``), without overrides."""
        return base_params(self.P, self.name, method, dataset or self.P["data"]["dataset"], category)

    def categories(self, categories=None) -> list[tuple[str, str | None]]:
        """``(dataset, category)`` pairs of the primary dataset: ``categories`` (names, ``"all"``, or
        None = the chapter's). In a dry run only the first category runs."""
        cats = self.section["categories"] if categories is None else categories
        out = primary_categories(self.P, cats, self.data_root)
        return out[:1] if self.dry_run else out

    def pair(self, category: str) -> tuple[str, str | None]:
        """``(dataset, category)`` of one named category: the primary dataset's where it holds it (e.g.
        MVTec AD at ``paper``), else the synthetic category of that name."""
        return (primary_categories(self.P, [category], self.data_root) or [("synthetic", category)])[0]

    def config(self, method: str, dataset: str, category: str | None = None, seed: int | None = None, **kw) -> dict:
        """One config (see :func:`make_config`); keyword arguments that are not :func:`make_config`'s options
        are params."""
        opts = {k: kw.pop(k) for k in ("split", "transform", "save_maps") if k in kw}
        sig = method_signature(method)
        over = {k: v for k, v in self.overrides.items() if k in sig or "**" in sig}
        home = self.name if method in self.methods else default_chapter(method)
        if home != self.name and dataset != "synthetic":     # a compared method: this chapter's split caps
            caps = {k: v for k, v in self.section.get("datasets", {}).get(dataset, {}).get("split", {}).items() if v}
            opts["split"] = {**caps, **dict(opts.get("split") or {"kind": "clean"})}
        cfg = make_config(self.P, home, method, dataset, category, {**over, **kw}, seed=self.seeds[0] if seed is None
                    else seed, data_root=self.data_root, **opts)
        if home != self.name and dataset == "synthetic":     # ... and this chapter's synthetic data
            cfg["data"] = synthetic_data(self.P, self.name)
        return cfg

    def noisy(self, ratio: float) -> dict:
        """TrustMAE's noisy split at ``ratio`` with one test set for every ratio (0 included)."""
        return {"kind": "noisy", "ratio": float(ratio), "fixed_test": True}

    def pairs(self, categories=None, real=None) -> list[tuple[str, str | None]]:
        """``(dataset, category)`` pairs: the primary dataset's ``categories`` (names, "all", [] for none;
        None = the chapter's), then the real datasets ``real`` found under the data root (None = the
        chapter's ``real``, else common's), each restricted to ``datasets.<d>.categories`` where given."""
        pairs = self.categories(categories)
        real = self.section.get("real", self.P["real"]) if real is None else real
        found = available_real([r for r in real if r != self.P["data"]["dataset"]], self.data_root)
        only = {d: s["categories"] for d, s in self.section.get("datasets", {}).items() if "categories" in s}
        found = [(d, c) for d, c in found if d not in only or c in only[d]]
        if self.dry_run:
            firsts: dict = {}
            found = [firsts.setdefault(d, (d, c)) for d, c in found if d not in firsts]
        return pairs + found

    def configs(self, method: str, categories=None, real=None, seeds=None, **kw) -> list[dict]:
        """Configs of ``method`` over :meth:`pairs` (``categories``, ``real``) and ``seeds`` (None = the
        profile's)."""
        pairs = self.pairs(categories, real)
        seeds = self.seeds if seeds is None else (list(seeds)[:1] if self.dry_run else list(seeds))
        return [self.config(method, d, c, seed=s, **copy.deepcopy(kw)) for s in seeds for d, c in pairs]


def chapter(name: str, profile: str = "cpu", data_root=None, seeds=None, **overrides) -> Chapter:
    """The notebooks' preamble: a :class:`Chapter` (``overrides``: notebook parameters that are
    method params, None = the profile's)."""
    return Chapter(name, profile, data_root, seeds, overrides)
