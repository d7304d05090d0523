"""DAGM 2007 (weakly supervised learning for industrial optical inspection) in its native layout.

::

    ClassN/Train/*.PNG
    ClassN/Train/Label/Labels.txt      header line, then tab-separated rows:
                                       index, label (0/1), image file, 0, label file
    ClassN/Train/Label/NAME_label.PNG  (coarse elliptic defect masks)
    ClassN/Test/...                    the same

Unsupervised protocol: training = the defect-free ``Train`` images, test = all ``Test`` images.
``root`` may hold the ``ClassN`` folders or a ``dagm/`` folder that does.
"""
from __future__ import annotations

import re
from pathlib import Path

from .. import DefectbookError
from .base import Sample, Split, category_dir

DAGM_DIRS = ("dagm", "DAGM", "DAGM_KaggleUpload", "dagm2007")


def class_name(class_id) -> str:
    """``3``, ``"3"`` or ``"Class3"`` -> ``"Class3"``."""
    m = re.fullmatch(r"(?:class)?(\d+)", str(class_id).strip(), flags=re.IGNORECASE)
    if not m:
        raise DefectbookError(f"DAGM class must be a number or 'ClassN', got {class_id!r}")
    return f"Class{int(m.group(1))}"


def find_dagm(root: Path | str) -> Path:
    """The folder directly holding the ``ClassN`` folders (``root`` or ``root/dagm``)."""
    root = Path(root)
    if not root.is_dir():
        raise DefectbookError(f"DAGM root {root} does not exist or is not a folder")
    for cand in [root] + [root / n for n in DAGM_DIRS]:
        if cand.is_dir() and any(re.fullmatch(r"Class\d+", d.name) and d.is_dir() for d in cand.iterdir()):
            return cand
    raise DefectbookError(f"wrong layout: no DAGM ClassN folders under {root} (expected ClassN/Train and ClassN/Test)")


def list_classes(root: Path | str) -> list[str]:
    """``ClassN`` folder names under ``root`` in numeric order."""
    base = find_dagm(root)
    names = [d.name for d in base.iterdir() if d.is_dir() and re.fullmatch(r"Class\d+", d.name)]
    return sorted(names, key=lambda n: int(n[5:]))


def read_labels(part: Path) -> list[tuple[Path, int, Path | None]]:
    """Rows ``(image, label, mask or None)`` of ``part/Label/Labels.txt`` (``part`` = Train or Test)."""
    lab = part / "Label" / "Labels.txt"
    if not lab.is_file():
        raise DefectbookError(f"wrong layout: {lab} not found (DAGM: ClassN/{part.name}/Label/Labels.txt)")
    rows = []
    lines = lab.read_text().splitlines()
    for i, line in enumerate(lines[1:], start=2):
        f = line.split()
        if not f:
            continue
        if len(f) < 3 or f[1] not in ("0", "1"):
            raise DefectbookError(
                f"{lab} line {i}: expected 'index, label 0/1, image file, 0, label file', got {line.strip()!r}"
            )
        img = part / f[2]
        if not img.is_file():
            raise DefectbookError(f"{lab} line {i}: image {img} not found")
        label, mask = int(f[1]), None
        if label == 1:
            if len(f) < 5:
                raise DefectbookError(f"{lab} line {i}: defective image without a label file")
            mask = part / "Label" / f[4]
            if not mask.is_file():
                raise DefectbookError(f"missing mask for {img}: expected {mask}")
        rows.append((img, label, mask))
    if not rows:
        raise DefectbookError(f"{lab} lists no images")
    return rows


def load_dagm(root: Path | str, class_id) -> Split:
    """Unsupervised split of one DAGM class: train = label-0 ``Train`` images, test = all ``Test``.

    Samples have ``category="ClassN"``, ``defect`` ``"good"`` or ``"defect"``; masks are the
    ``*_label.PNG`` files (image-sized, binary).
    """
    base = find_dagm(root)
    name = class_name(class_id)
    cdir = category_dir(base, name, "DAGM")
    if not cdir.is_dir():
        raise DefectbookError(
            f"DAGM class {name} not found under {base} (found: {', '.join(list_classes(base)) or 'none'})"
        )
    for part in ("Train", "Test"):
        if not (cdir / part).is_dir():
            raise DefectbookError(f"wrong layout: {cdir} has no {part} folder (DAGM: ClassN/Train, ClassN/Test)")
    train = [Sample(p, 0, "good", None, name) for p, lab, _ in read_labels(cdir / "Train") if lab == 0]
    rows = read_labels(cdir / "Test")
    test = [Sample(p, lab, "defect" if lab else "good", m, name) for p, lab, m in rows]
    test.sort(key=lambda s: (s.label, s.path.name))
    info = {"name": f"dagm:{name}", "dataset": "dagm", "category": name, "root": str(cdir),
            "n_train": len(train), "n_test": len(test), "n_defective": sum(s.label for s in test),
            "note": "DAGM masks are coarse ellipses"}
    return Split(train, test, True, info)
