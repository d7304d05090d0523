"""Datasets: loaders into :class:`Split` objects, derived splits, transforms, the synthetic set.

``load_split(dataset, category, root, **kw)`` is the one entry point the experiment runner uses:

========== ============================================ =========================================
dataset    category                                     ``kw``
========== ============================================ =========================================
synthetic  one of :data:`synthetic.CATEGORIES`          generator params + ``cache_dir``
mvtec      a category folder (``bottle``, ...)          --
mtd        ignored (``None`` or ``"mtd"``)              ``split``, ``seed``, ``train_ratio``
dagm       ``ClassN`` or ``N``                          --
elpv       ``mono`` or ``poly``                         ``defective``, ``train_ratio``, ``seed``
folder     optional sub-folder of ``root``              ``normal_dir``, ``abnormal_dir``,
                                                        ``mask_dir``, ``test_split_ratio``, ``seed``
========== ============================================ =========================================

Real datasets are looked up under the data root (``root``, else ``$DEFECTBOOK_DATA``), except ELPV:
its images come with the installed ``elpv-dataset`` package (:mod:`.elpv`).
"""
from __future__ import annotations

from pathlib import Path

from .. import DefectbookError, settings
from .base import Sample, Split, load_images, load_masks, read_image, read_mask

DATASETS = ("synthetic", "mvtec", "mtd", "dagm", "folder", "elpv")
#: datasets read from an installed package, not from the data root
PACKAGED = ("elpv",)

__all__ = ["DATASETS", "Sample", "Split", "load_images", "load_masks", "read_image", "read_mask",
           "resolve_root", "load_split"]


def resolve_root(root=None) -> Path:
    """The real-data root: ``root`` if given, else ``$DEFECTBOOK_DATA``; it must exist."""
    if root is None or str(root) == "":
        env = settings.get("DEFECTBOOK_DATA")
        if not env:
            raise DefectbookError("no data root: pass --data-root or set DEFECTBOOK_DATA")
        root = env
    p = Path(root).expanduser()
    if not p.is_dir():
        raise DefectbookError(f"data root {p} does not exist or is not a folder")
    return p


def _default_cache() -> Path:
    try:
        from ..paths import cache_dir
    except ImportError:  # pragma: no cover - paths.py is part of the package
        return Path(settings.get("DEFECTBOOK_CACHE", Path.home() / ".cache" / "defectbook"))
    return cache_dir()


def load_split(dataset: str, category: str | None = None, root=None, **kw) -> Split:
    """Load one dataset category as a :class:`Split` (see the module table for ``category``/``kw``)."""
    if dataset not in DATASETS:
        raise DefectbookError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    if dataset == "synthetic":
        from . import synthetic
        from .mvtec import load_mvtec

        if category not in synthetic.CATEGORIES:
            raise DefectbookError(
                f"synthetic category must be one of {', '.join(synthetic.CATEGORIES)}, got {category!r}"
            )
        kw = dict(kw)
        cache = kw.pop("cache_dir", None) or (_default_cache() / "synthetic")
        kw.pop("categories", None)
        path = synthetic.ensure(cache, **kw)
        split = load_mvtec(path, category)
        params = synthetic._params(**kw)
        params.pop("categories")
        split.info.update({"name": f"synthetic:{category}", "dataset": "synthetic", "generator": params,
                           "generator_version": synthetic.GENERATOR_VERSION})
        return split
    if dataset == "elpv":
        from .elpv import load_elpv

        return load_elpv(category, **kw)
    if dataset == "folder" and "normal_dir" in kw:
        from .folder import load_folder

        return load_folder(**kw)
    base = resolve_root(root)
    if dataset == "mvtec":
        from .mvtec import list_categories, load_mvtec

        if kw:
            raise DefectbookError(f"mvtec takes no options, got {', '.join(kw)}")
        if not category:
            raise DefectbookError(f"mvtec needs a category; found: {', '.join(list_categories(base))}")
        return load_mvtec(base, category)
    if dataset == "mtd":
        from .mtd import load_mtd

        if category not in (None, "", "mtd"):
            raise DefectbookError(f"mtd has a single category; got {category!r}")
        return load_mtd(base, **kw)
    if dataset == "dagm":
        from .dagm import load_dagm

        if category is None:
            raise DefectbookError("dagm needs a class: ClassN or N")
        if kw:
            raise DefectbookError(f"dagm takes no options, got {', '.join(kw)}")
        return load_dagm(base, category)
    # folder without explicit directories: root[/category]/{normal,good}, {abnormal,defect}, {masks,ground_truth}
    from .base import category_dir
    from .folder import ABNORMAL_DIRS, MASK_DIRS, NORMAL_DIRS, load_folder

    d = category_dir(base, category, "folder") if category else base
    normal = next((d / n for n in NORMAL_DIRS if (d / n).is_dir()), None)
    if normal is None:
        raise DefectbookError(f"wrong layout: {d} has no normal/ (or good/) folder; pass normal_dir=...")
    abnormal = next((d / n for n in ABNORMAL_DIRS if (d / n).is_dir()), None)
    masks = next((d / n for n in MASK_DIRS if (d / n).is_dir()), None)
    return load_folder(normal, abnormal, masks, category=category or d.name, **kw)
