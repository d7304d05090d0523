"""A folder of your own images: which layout it has, and whether it can be compared on, checked before any training.

Two layouts are read (each through its loader, :mod:`.mvtec` or :mod:`.folder`)::

    MVTec:   ROOT/<category>/train/good/*.png            defect-free training images
             ROOT/<category>/test/good/*.png             defect-free test images
             ROOT/<category>/test/<defect>/*.png         defective test images, one folder per defect type
             ROOT/<category>/ground_truth/<defect>/<name>_mask.png   (optional) pixel masks
             (ROOT may also be the category folder itself)
    Folder:  ROOT[/<category>]/normal/ (or good/)        defect-free images; a seeded share is held out for test
             ROOT[/<category>]/abnormal/ (or defect/)    defective images (test only)
             ROOT[/<category>]/masks/ (or ground_truth/) (optional) <name>.png or <name>_mask.png per defective image

:func:`user_data` finds the layout and checks the split before a model is trained: enough images in each
part (:data:`MIN_IMAGES`), and, where there is a mask folder, a mask of the image's size for every defective
image and an image for every mask. Every problem is a :class:`~defectbook.DefectbookError` that names the
folder and what is wrong with it. The named datasets ``mtd`` and ``elpv`` (the book's pages) pass through.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import DefectbookError
from . import load_split
from .base import IMAGE_SUFFIXES, Split, category_dir, image_size
from .folder import ABNORMAL_DIRS, MASK_DIRS, NORMAL_DIRS

#: the fewest images of each part a comparison accepts
MIN_IMAGES = {"training": 4, "defect-free test": 2, "defective test": 2}
#: datasets named rather than found in a folder
NAMED = ("mtd", "elpv")

MVTEC_HELP = "MVTec layout: CATEGORY/train/good, CATEGORY/test/good, CATEGORY/test/<defect>"
FOLDER_HELP = "folder layout: normal/ (or good/), abnormal/ (or defect/), optional masks/"


@dataclass(frozen=True)
class UserData:
    """Where the images of a comparison are: ``dataset`` (``mvtec``, ``folder``, ``mtd``, ``elpv``), ``category``
    and ``root`` as an experiment config names them (``data_root``), and the counts of the checked split."""

    dataset: str
    category: str | None
    root: str | None
    n_train: int
    n_test_normal: int
    n_test_defective: int
    has_masks: bool

    def describe(self) -> str:
        what = f"{self.dataset}" + (f":{self.category}" if self.category else "")
        masks = "pixel masks" if self.has_masks else "no pixel masks (image metrics only)"
        return (f"{what}: {self.n_train} training images, {self.n_test_normal} defect-free and "
                f"{self.n_test_defective} defective test images, {masks}")


def _first(folder: Path, names) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_dir()), None)


def _is_mvtec(d: Path) -> bool:
    return (d / "train").is_dir() and (d / "test").is_dir()


def _is_folder(d: Path) -> bool:
    return _first(d, NORMAL_DIRS) is not None


def _contents(d: Path) -> str:
    subs = sorted(p.name for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    return f"sub-folders: {', '.join(subs[:8])}" + (" ..." if len(subs) > 8 else "") if subs else "no sub-folders"


def find_layout(root, category: str | None = None) -> tuple[str, str | None, Path]:
    """``(dataset, category, data_root)`` of the images under ``root`` (see the module docstring); an error
    naming ``root`` when it holds neither layout, or several categories and no ``category`` was given."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DefectbookError(f"data folder {root} does not exist or is not a folder")
    base = category_dir(root, category, "data") if category else root
    if category and not base.is_dir():
        raise DefectbookError(f"no category folder {category!r} in {root} ({_contents(root)})")
    if _is_mvtec(base):
        return "mvtec", base.name, base.parent
    if _is_folder(base):
        return "folder", category, root
    partial = [n for n in ("train", "test") if (base / n).is_dir()]
    if partial:
        missing = "test" if partial == ["train"] else "train"
        raise DefectbookError(f"wrong layout: {base} has {partial[0]}/ but no {missing}/ folder ({_contents(base)}); "
                              f"expected the {MVTEC_HELP}")
    if category is None:
        cats = sorted(d.name for d in base.iterdir() if d.is_dir() and (_is_mvtec(d) or _is_folder(d)))
        if len(cats) == 1:
            return find_layout(root, cats[0])
        if cats:
            raise DefectbookError(f"{root} holds {len(cats)} categories ({', '.join(cats)}): "
                                  f"choose one with --category")
    raise DefectbookError(f"wrong layout: {base} is in neither layout ({_contents(base)}); expected the "
                          f"{MVTEC_HELP}, or the {FOLDER_HELP}")


def _mask_stem(p: Path) -> str:
    return p.stem[:-5] if p.stem.endswith("_mask") else p.stem


def _masks_in(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            and not p.name.startswith(".")]


def check_masks(split: Split, mask_folders: list[Path]) -> None:
    """Every defective test image's mask has the image's size, and every file of ``mask_folders`` is the mask
    of a defective test image (a mask whose image is missing or misnamed is an error naming both)."""
    images = {}
    for s in split.test:
        if s.label == 1 and s.mask is not None:
            images[Path(s.mask).resolve()] = s
            if image_size(Path(s.mask)) != image_size(Path(s.path)):
                w, h = image_size(Path(s.mask))
                iw, ih = image_size(Path(s.path))
                raise DefectbookError(f"masks do not match: mask {s.mask} is {w}x{h} but its image {s.path} is "
                                      f"{iw}x{ih} (a mask must have its image's size)")
    for folder in mask_folders:
        for m in sorted(_masks_in(folder)):
            if m.resolve() not in images:
                raise DefectbookError(f"masks do not match: {m} in {folder} belongs to no defective image (expected "
                                      f"an image named {_mask_stem(m)} among the defective test images)")


def _mask_folders(dataset: str, base: Path) -> list[Path]:
    if dataset == "mvtec":
        gt = base / "ground_truth"
        return [d for d in sorted(gt.iterdir()) if d.is_dir()] if gt.is_dir() else []
    found = _first(base, MASK_DIRS)
    return [found] if found is not None else []


def check_counts(split: Split, where: dict, minimum: dict | None = None) -> None:
    """At least ``minimum`` (default :data:`MIN_IMAGES`) images in each part of ``split``; ``where``: the folder
    each part comes from, named in the error."""
    minimum = {**MIN_IMAGES, **(minimum or {})}
    have = {"training": len(split.train), "defect-free test": sum(s.label == 0 for s in split.test),
            "defective test": sum(s.label == 1 for s in split.test)}
    for part, n in have.items():
        if n < minimum[part]:
            raise DefectbookError(f"too few images: {n} {part} image(s) in {where[part]}; a comparison needs at "
                                  f"least {minimum[part]}")


def _counted(dataset: str, category, root, split: Split) -> UserData:
    return UserData(dataset, category, None if root is None else str(root), len(split.train),
                    sum(s.label == 0 for s in split.test), sum(s.label == 1 for s in split.test), split.has_masks)


def user_data(root=None, category: str | None = None, dataset: str | None = None,
              minimum: dict | None = None) -> UserData:
    """The checked images of a comparison. ``dataset`` None (or the layout's name): found under ``root``
    (:func:`find_layout`), loaded, and checked (:func:`check_counts`, :func:`check_masks`) before anything is
    trained; ``mtd`` or ``elpv``: that dataset as its loader reads it (``root``: the data root of MTD; ELPV is
    read from its installed package), not checked further."""
    if dataset in NAMED:            # the book's data sets: their loaders check them, their sizes are known
        return _counted(dataset, category, root, load_split(dataset, category, root=root))
    if dataset not in (None, "mvtec", "folder"):
        raise DefectbookError(f"unknown dataset {dataset!r} for a comparison; known: mvtec, folder, "
                              f"{', '.join(NAMED)} (or none: found from the folder's layout)")
    found, category, data_root = find_layout(root, category)
    if dataset is not None and dataset != found:
        raise DefectbookError(f"wrong layout: {root} is in the {found} layout, not {dataset}")
    base = data_root / category if category else data_root
    split = load_split(found, category, root=data_root)
    if found == "mvtec":
        where = {"training": base / "train" / "good", "defect-free test": base / "test" / "good",
                 "defective test": base / "test" / "<defect>"}
    else:
        normal, abnormal = _first(base, NORMAL_DIRS), _first(base, ABNORMAL_DIRS)
        where = {"training": normal, "defect-free test": f"{normal} (a share of "
                 f"{split.info.get('test_split_ratio')} held out for test)",
                 "defective test": abnormal or f"{base}/abnormal (missing)"}
    check_counts(split, where, minimum)
    check_masks(split, _mask_folders(found, base))
    return _counted(found, category, data_root, split)
