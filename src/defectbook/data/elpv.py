"""ELPV: electroluminescence images of solar cells (Buerhop-Lutz et al. 2018; Deitsch et al. 2019).

The images come from the installed PyPI package ``elpv-dataset`` (CC BY-NC-SA 4.0; never copied into
this repository)::

    site-packages/elpv_dataset/data/labels.csv       "images/cellNNNN.png  <probability>  <mono|poly>"
    site-packages/elpv_dataset/data/images/*.png     2,624 grayscale cells, 300 x 300

Each cell carries the experts' probability that it is defective (0, 1/3, 2/3 or 1) and the module
type (``mono``- or ``poly``-crystalline); there are no pixel masks. The two types look different
(poly cells show a grain texture that mono cells lack), so each type is one category:

=========  ======  ========  =========  =====
category   p = 0   p = 1/3   p = 2/3    p = 1
=========  ======  ========  =========  =====
mono       588     117       56         313
poly       920     178       50         402
=========  ======  ========  =========  =====

The protocol (no official one exists for one-class training):

* training: a seeded ``train_ratio`` share (default 0.8) of the cells with p = 0 of the category;
* test: the other p = 0 cells (label 0) and the cells with p >= ``defective`` (label 1);
* cells with 0 < p < ``defective`` are left out. With the default ``defective=2/3`` these are the
  p = 1/3 cells, which the annotators marked as *possibly* defective: counted as normal they would be
  defects in the "defect-free" test set, counted as defective they would make defects of cells the
  experts did not agree on; either way they blur the AUROC. ``defective=1/3`` counts them as
  defective instead (``defective=1``: only certain defects).

The split depends on ``seed`` (the data seed, 0 by default, not the run's seed: every method and seed
of a comparison sees one test set). ``Split.has_masks`` is False: pixel metrics are not available.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from .. import DefectbookError
from .base import Sample, Split, seeded_rng

PACKAGE = "elpv_dataset"
CATEGORIES = ("mono", "poly")
PROBABILITIES = (0.0, 1 / 3, 2 / 3, 1.0)


def package_dir() -> Path:
    """The installed package's data folder (``.../elpv_dataset/data``); a clear error when absent."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DefectbookError("ELPV needs the PyPI package elpv-dataset: pip install elpv-dataset "
                              "(it ships the 2,624 images; nothing is downloaded at run time)")
    d = Path(list(spec.submodule_search_locations)[0]) / "data"
    if not (d / "labels.csv").is_file():
        raise DefectbookError(f"elpv-dataset is installed but {d / 'labels.csv'} is missing: reinstall it")
    return d


def available() -> bool:
    """Whether the ``elpv-dataset`` package is installed (with its labels file)."""
    try:
        package_dir()
    except DefectbookError:
        return False
    return True


def version() -> str | None:
    """The installed ``elpv-dataset`` version (recorded in the split info)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _v

    try:
        return _v("elpv-dataset")
    except PackageNotFoundError:
        return None


def read_labels(base: Path | None = None) -> list[tuple[Path, float, str]]:
    """``(image path, defect probability, type)`` for every cell, in the file's order."""
    base = base or package_dir()
    rows = []
    for i, line in enumerate((base / "labels.csv").read_text().splitlines()):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3 or parts[2] not in CATEGORIES:
            raise DefectbookError(
                f"{base / 'labels.csv'} line {i + 1}: expected 'path probability mono|poly', got {line!r}"
            )
        rows.append((base / parts[0], float(parts[1]), parts[2]))
    return rows


def load_elpv(category: str, defective: float = 2 / 3, train_ratio: float = 0.8, seed: int = 0,
              base: Path | None = None) -> Split:
    """Train/test split of one module type (see the module docstring for the protocol).

    ``defective``: the lowest probability counted as a defect (1/3, 2/3 or 1; cells between 0 and it
    are left out). ``base``: the data folder (default: the installed package's).
    """
    if category not in CATEGORIES:
        raise DefectbookError(f"elpv category must be one of {', '.join(CATEGORIES)}, got {category!r}")
    if not any(abs(defective - p) < 1e-3 for p in PROBABILITIES[1:]):
        raise DefectbookError(
            f"elpv: defective must be one of 1/3, 2/3, 1 (the annotated probabilities), got {defective}"
        )
    if not 0 < train_ratio < 1:
        raise DefectbookError(f"train_ratio must be between 0 and 1 (exclusive), got {train_ratio}")
    rows = [r for r in read_labels(base) if r[2] == category]
    free = [p for p, prob, _ in rows if prob == 0]
    bad = [(p, prob) for p, prob, _ in rows if prob >= defective - 1e-3]
    n_train = int(np.floor(train_ratio * len(free) + 1e-9))
    if n_train < 1 or n_train >= len(free):
        raise DefectbookError(
            f"train_ratio {train_ratio} leaves no images on one side of {len(free)} defect-free cells"
        )
    chosen = set(seeded_rng(seed, "elpv", category).permutation(len(free))[:n_train].tolist())
    train = [Sample(p, 0, "good", None, category) for i, p in enumerate(free) if i in chosen]
    test = [Sample(p, 0, "good", None, category) for i, p in enumerate(free) if i not in chosen]
    test += [Sample(p, 1, f"p={prob:.2f}", None, category) for p, prob in bad]
    left_out = sum(1 for _, prob, _ in rows if 0 < prob < defective - 1e-3)
    info = {"name": f"elpv:{category}", "dataset": "elpv", "category": category, "package": PACKAGE,
            "package_version": version(), "split": "random", "seed": int(seed), "train_ratio": float(train_ratio),
            "defective_from": round(float(defective), 4), "n_train": len(train), "n_test_good": len(test) - len(bad),
            "n_defective": len(bad), "left_out_uncertain": left_out,
            "note": "300x300 grayscale EL cells; no pixel masks: image-level metrics only"}
    return Split(train, test, False, info)
