"""Magnetic Tile Defects (Huang, Qiu, Yuan 2020) in its native layout.

::

    mtd/MT_Free/Imgs/NAME.jpg  (+ NAME.png, an empty mask)     952 defect-free images
    mtd/MT_Blowhole|MT_Break|MT_Crack|MT_Fray|MT_Uneven/Imgs/NAME.jpg + NAME.png (pixel mask)
    mtd/differnet_train_filenames.txt                          761 names (DifferNet's training set)

Images are grayscale and of varying sizes (e.g. 240x289); the transforms resize them. There is
no official split: ``split="paper"`` uses the DifferNet authors' list of training images (the
rest of the defect-free images plus all 392 defective ones are the test set: 761 / 191 + 392);
``split="random"`` draws a seeded ``train_ratio`` share of the defect-free images for training.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import DefectbookError
from .base import Sample, Split, seeded_rng

FREE = "MT_Free"
DEFECT_DIRS = ("MT_Blowhole", "MT_Break", "MT_Crack", "MT_Fray", "MT_Uneven")
PAPER_LIST = "differnet_train_filenames.txt"
SPLITS = ("paper", "random")
#: MTD's masks are anti-aliased (0..255): a pixel is a defect above this value (recorded in the split info)
MASK_THRESHOLD = 127


def find_mtd(root: Path | str) -> Path:
    """The MTD folder: ``root`` itself when it holds ``MT_Free/``, else ``root/mtd``."""
    root = Path(root)
    if not root.is_dir():
        raise DefectbookError(f"MTD root {root} does not exist or is not a folder")
    for cand in (root, root / "mtd", root / "Magnetic-tile-defect-datasets.",
                 root / "Magnetic-tile-defect-datasets.-master"):
        if (cand / FREE).is_dir():
            return cand
    raise DefectbookError(
        f"wrong layout: no Magnetic Tile Defects under {root} (expected {FREE}/Imgs/*.jpg there or in mtd/)"
    )


def _images(folder: Path) -> list[Path]:
    imgs = folder / "Imgs"
    if not imgs.is_dir():
        raise DefectbookError(f"wrong layout: {folder} has no Imgs folder (expected {folder.name}/Imgs/*.jpg)")
    return sorted(p for p in imgs.iterdir() if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg", ".bmp"))


def load_mtd(root: Path | str, split: str = "paper", seed: int = 0, train_ratio: float = 0.8) -> Split:
    """Train/test split of MTD (all samples have ``category="mtd"``).

    ``split="paper"``: train = the defect-free images named in ``differnet_train_filenames.txt``;
    ``split="random"``: a seeded ``floor(train_ratio * 952)`` of the defect-free images (761 at
    0.8). Test: the other defect-free images (label 0, no mask) then the defective ones in folder
    order (label 1, ``defect`` = ``blowhole`` ... ``uneven``, ``mask`` = the ``.png`` beside it).
    """
    base = find_mtd(root)
    if split not in SPLITS:
        raise DefectbookError(f"unknown MTD split {split!r}; known: {', '.join(SPLITS)}")
    free = _images(base / FREE)
    if not free:
        raise DefectbookError(f"empty split: no defect-free images in {base / FREE / 'Imgs'}")
    if split == "paper":
        lst = base / PAPER_LIST
        if not lst.is_file():
            raise DefectbookError(f"MTD paper split needs {lst}; use split='random' for a seeded 80/20 split")
        names = [ln.strip() for ln in lst.read_text().splitlines() if ln.strip()]
        by_name = {p.name: p for p in free}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise DefectbookError(f"{lst.name} names {len(unknown)} files not in {FREE}/Imgs, e.g. {unknown[0]}")
        chosen = set(names)
        info_split = {"split": "paper", "list": str(lst)}
    else:
        if not 0 < train_ratio < 1:
            raise DefectbookError(f"train_ratio must be between 0 and 1 (exclusive), got {train_ratio}")
        n_train = int(np.floor(train_ratio * len(free) + 1e-9))
        if n_train < 1 or n_train >= len(free):
            raise DefectbookError(
                f"train_ratio {train_ratio} leaves no images on one side of {len(free)} defect-free images"
            )
        perm = seeded_rng(seed, "mtd").permutation(len(free))
        chosen = {free[i].name for i in perm[:n_train]}
        info_split = {"split": "random", "seed": int(seed), "train_ratio": float(train_ratio)}
    train = [Sample(p, 0, "good", None, "mtd") for p in free if p.name in chosen]
    test = [Sample(p, 0, "good", None, "mtd") for p in free if p.name not in chosen]
    counts = {}
    for d in DEFECT_DIRS:
        if not (base / d).is_dir():
            raise DefectbookError(
                f"wrong layout: {base} has no {d} folder (MTD needs {FREE} and {', '.join(DEFECT_DIRS)})"
            )
        kind = d[3:].lower()
        imgs = _images(base / d)
        for p in imgs:
            m = p.with_suffix(".png")
            if not m.is_file():
                raise DefectbookError(f"missing mask for {p}: expected {m}")
            test.append(Sample(p, 1, kind, m, "mtd", MASK_THRESHOLD))
        counts[kind] = len(imgs)
    info = {"name": "mtd", "dataset": "mtd", "category": "mtd", "root": str(base), **info_split,
            "n_train": len(train), "n_test_good": len(test) - sum(counts.values()), "n_defective": sum(counts.values()),
            "defects": counts, "note": "grayscale images of varying sizes", "mask_threshold": MASK_THRESHOLD}
    return Split(train, test, True, info)
