"""MVTec AD layout reader (also used for the synthetic dataset).

Layout of one category ``CAT``::

    CAT/train/good/*.png
    CAT/test/good/*.png
    CAT/test/<defect>/*.png
    CAT/ground_truth/<defect>/<stem>_mask.png     (optional; same size as the image)

``root`` may be the folder holding the categories, or a parent holding it as ``mvtec/`` or
``mvtec_anomaly_detection/``. A category without ``ground_truth/`` loads with ``has_masks=False``
(image-level metrics only).
"""
from __future__ import annotations

from pathlib import Path

from .. import DefectbookError
from .base import Sample, Split, category_dir, list_images

#: Sub-folders of a data root that may hold the MVTec categories.
MVTEC_DIRS = ("mvtec", "mvtec_anomaly_detection", "mvtec_ad")


def _is_category(d: Path) -> bool:
    return (d / "train").is_dir() and (d / "test").is_dir()


def categories_root(root: Path | str) -> Path:
    """The folder that directly holds the categories: ``root`` itself or ``root/mvtec`` (etc.)."""
    root = Path(root)
    if not root.is_dir():
        raise DefectbookError(f"MVTec root {root} does not exist or is not a folder")
    for name in MVTEC_DIRS:
        if (root / name).is_dir() and any(_is_category(d) for d in (root / name).iterdir() if d.is_dir()):
            return root / name
    return root


def list_categories(root: Path | str) -> list[str]:
    """Sorted names of the MVTec-layout categories (folders with ``train/`` and ``test/``) under ``root``."""
    base = categories_root(root)
    cats = sorted(d.name for d in base.iterdir() if d.is_dir() and _is_category(d))
    if not cats:
        raise DefectbookError(f"no MVTec-layout categories under {root}: expected CAT/train/good and CAT/test/<defect>")
    return cats


def _category_dir(root: Path | str, category: str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DefectbookError(f"MVTec root {root} does not exist or is not a folder")
    if not category:
        raise DefectbookError(f"no MVTec category given; found under {root}: {', '.join(list_categories(root))}")
    category_dir(root, category, "MVTec")  # a name under the root, never a path out of it
    for cand in [root / category] + [root / n / category for n in MVTEC_DIRS]:
        if cand.is_dir():
            return cand
    if _is_category(root) and root.name == category:
        return root
    try:
        known = ", ".join(list_categories(root))
    except DefectbookError:
        known = "none"
    raise DefectbookError(f"MVTec category {category!r} not found under {root} (found: {known})")


def load_mvtec(root: Path | str, category: str) -> Split:
    """The original train/test split of one MVTec-layout category.

    Training: ``train/good`` images (label 0). Test: ``test/good`` first, then each defect folder
    in name order (label 1, ``defect`` = folder name, ``mask`` = its ground-truth file). Every
    sample has ``category`` set. Masks are ``[H, W]`` binary images of the image's size.
    """
    cat = _category_dir(root, category)
    name = cat.name
    train_dir, test_dir, gt_dir = cat / "train" / "good", cat / "test", cat / "ground_truth"
    if not train_dir.is_dir():
        raise DefectbookError(
            f"wrong layout: {cat} has no train/good folder (MVTec layout: CAT/train/good, CAT/test/<defect>)"
        )
    if not test_dir.is_dir():
        raise DefectbookError(
            f"wrong layout: {cat} has no test folder (MVTec layout: CAT/train/good, CAT/test/<defect>)"
        )
    has_masks = gt_dir.is_dir()
    train = [Sample(p, 0, "good", None, name) for p in list_images(train_dir)]
    if not train:
        raise DefectbookError(f"empty training split: no images in {train_dir}")
    defects = sorted(d.name for d in test_dir.iterdir() if d.is_dir())
    defects = (["good"] if "good" in defects else []) + [d for d in defects if d != "good"]
    test: list[Sample] = []
    for d in defects:
        for p in list_images(test_dir / d):
            if d == "good":
                test.append(Sample(p, 0, "good", None, name))
                continue
            mask = None
            if has_masks:
                mask = _find_mask(gt_dir / d, p.stem)
                if mask is None:
                    raise DefectbookError(f"missing mask for {p}: expected {gt_dir / d / (p.stem + '_mask.png')}")
            test.append(Sample(p, 1, d, mask, name))
    if not test:
        raise DefectbookError(f"empty test split: no images under {test_dir}/<defect>/")
    info = {"name": f"mvtec:{name}", "dataset": "mvtec", "category": name, "root": str(cat),
            "n_train": len(train), "n_test": len(test), "n_defective": sum(s.label for s in test),
            "defects": [d for d in defects if d != "good"]}
    if not has_masks:
        info["note"] = f"{name} has no ground_truth folder: metrics are image-level only"
    return Split(train, test, has_masks, info)


def _find_mask(folder: Path, stem: str) -> Path | None:
    for cand in (folder / f"{stem}_mask.png", folder / f"{stem}.png", folder / f"{stem}_mask.PNG"):
        if cand.is_file():
            return cand
    return None
