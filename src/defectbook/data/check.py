"""``defectbook data check ROOT``: what datasets a folder holds, and what is wrong with them."""
from __future__ import annotations

from pathlib import Path

from PIL import UnidentifiedImageError

from .. import DefectbookError
from .base import Split, mask_array, open_image, read_image


def _size(path: Path, what: str, full: bool, problems: list[str]) -> tuple[int, int] | None:
    """The pixel size of the ``what`` (image or mask) at ``path``, decoded when ``full``; None, with the
    reason added to ``problems``, when it cannot be read."""
    try:
        with open_image(path, what) as im:
            if full:
                im.load()
            return im.size
    except (UnidentifiedImageError, OSError) as e:
        problems.append(f"unreadable {what} {path} ({e.__class__.__name__})")
    except DefectbookError as e:  # a decompression bomb: refused before decoding
        problems.append(f"unreadable {what} {path} ({e})")
    return None


def _verify(split: Split, full: bool) -> tuple[int, list[str]]:
    """Open every image (decode it when ``full``) and check mask sizes; ``(n_masks, problems)``."""
    problems: list[str] = []
    n_masks = 0
    for s in split.train + split.test:
        if (size := _size(s.path, "image", full, problems)) is None or s.mask is None:
            continue
        n_masks += 1
        if (msize := _size(s.mask, "mask", full, problems)) is None:
            continue
        if msize != size:
            problems.append(f"mask {s.mask} is {msize[0]}x{msize[1]} but its image is {size[0]}x{size[1]}")
        elif full:
            try:
                mask_array(s.mask, s.mask_threshold)
            except DefectbookError as e:
                problems.append(str(e))
    if full:  # modes read_image rejects (e.g. CMYK-less exotic modes, float images out of [0, 1])
        unreadable = {p.split(" ")[2] for p in problems if p.startswith("unreadable image ")}
        for s in split.train + split.test:
            if str(s.path) in unreadable:
                continue
            try:
                read_image(s.path)
            except DefectbookError as e:
                problems.append(str(e))
    if not any(s.label for s in split.test):
        problems.append("the test set has no defective images: AUROC is undefined and no fit on it can be evaluated")
    if all(s.label for s in split.test):
        problems.append("the test set has no defect-free images: AUROC is undefined")
    return n_masks, problems


def _line(label: str, split: Split, n_masks: int) -> str:
    n_bad = sum(s.label for s in split.test)
    line = (f"  {label}: train {len(split.train)}, test {len(split.test)} "
            f"({len(split.test) - n_bad} good, {n_bad} defective), masks {n_masks}")
    if not split.has_masks:
        line += " (no ground truth: image-level metrics only)"
    return line


def check(root, full: bool = True) -> tuple[str, list[str]]:
    """``(report, problems)`` for the data under ``root`` (see :func:`check_root`)."""
    from .dagm import find_dagm, list_classes, load_dagm
    from .mtd import find_mtd, load_mtd
    from .mvtec import _is_category, categories_root, load_mvtec

    root = Path(root)
    if not root.is_dir():
        raise DefectbookError(f"data root {root} does not exist or is not a folder")
    lines = [f"data root {root}"]
    problems: list[str] = []
    found = False

    def attempt(label, fn):
        try:
            split = fn()
        except DefectbookError as e:
            problems.append(f"{label}: {e}")
            lines.append(f"  {label}: ERROR {e}")
            return
        n_masks, probs = _verify(split, full)
        lines.append(_line(label, split, n_masks))
        problems.extend(f"{label}: {p}" for p in probs)

    try:
        mtd = find_mtd(root)
    except DefectbookError:
        mtd = None
    if mtd is not None:
        found = True
        lines.append(f"MTD (Magnetic Tile Defects) at {mtd}")
        if (mtd / "differnet_train_filenames.txt").is_file():
            attempt("mtd (paper split)", lambda: load_mtd(mtd, "paper"))
        else:
            lines.append("  no differnet_train_filenames.txt: only split='random' is available")
            attempt("mtd (random split)", lambda: load_mtd(mtd, "random"))

    if _is_category(root):  # ROOT is one category folder
        mv, cats = root.parent, [root.name]
    else:
        mv = categories_root(root)
        cats = sorted(d.name for d in mv.iterdir() if d.is_dir() and _is_category(d))
    if cats:
        found = True
        lines.append(f"MVTec layout at {mv}: {len(cats)} categories")
        for c in cats:
            attempt(c, lambda c=c: load_mvtec(mv, c))
    else:
        partial = sorted(
            d.name for d in mv.iterdir() if d.is_dir() and ((d / "train").is_dir() != (d / "test").is_dir())
        )
        for c in partial:
            problems.append(f"{c}: wrong layout: MVTec categories need both train/ and test/")

    try:
        dagm = find_dagm(root)
    except DefectbookError:
        dagm = None
    if dagm is not None:
        found = True
        classes = list_classes(dagm)
        lines.append(f"DAGM 2007 at {dagm}: {len(classes)} classes")
        for c in classes:
            attempt(c, lambda c=c: load_dagm(dagm, c))

    if not found:
        problems.append(f"no datasets found under {root}: expected mtd/ (MT_Free/Imgs ...), MVTec categories "
                        f"(CAT/train/good, CAT/test/<defect>, optionally inside mvtec/) or DAGM ClassN/Train folders")
    if problems:
        lines.append(f"{len(problems)} problem(s):")
        lines += [f"  - {p}" for p in problems[:50]]
        if len(problems) > 50:
            lines.append(f"  ... and {len(problems) - 50} more")
    else:
        lines.append("OK")
    return "\n".join(lines), problems


def check_root(root, full: bool = True) -> str:
    """Human-readable report on ``root``: datasets and categories found, counts of training, test,
    defective images and masks per category, or what is wrong (layout, unreadable images, mask
    sizes). ``full=False`` reads only image headers (faster; misses truncated files)."""
    return check(root, full)[0]
