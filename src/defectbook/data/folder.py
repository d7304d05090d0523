"""A generic folder dataset (as anomalib's ``Folder``): your own normal / abnormal images.

The normal images are split seeded into train and test (``test_split_ratio`` of them go to
test); abnormal images are test-only. Masks, optional, are matched to abnormal images by file
stem in ``mask_dir`` (``NAME.png`` or ``NAME_mask.png``, any image suffix).
"""
from __future__ import annotations

from pathlib import Path

from .. import DefectbookError
from .base import IMAGE_SUFFIXES, Sample, Split, list_images, seeded_rng

#: the sub-folder names of a folder dataset found under its root, in the order they are looked for
NORMAL_DIRS = ("normal", "good")
ABNORMAL_DIRS = ("abnormal", "defect")
MASK_DIRS = ("masks", "ground_truth")


def _dir(p, what: str) -> Path:
    p = Path(p)
    if not p.is_dir():
        raise DefectbookError(f"{what} folder {p} does not exist")
    return p


def load_folder(normal_dir, abnormal_dir=None, mask_dir=None, test_split_ratio: float = 0.2, seed: int = 0,
                category: str = "folder", mask_threshold: int | None = None) -> Split:
    """Split of a folder dataset. Samples: ``label`` 0 (normal, ``defect="good"``) or 1
    (abnormal, ``defect`` = the abnormal folder's name); ``has_masks`` is True iff ``mask_dir``
    is given, in which case every abnormal image needs a mask of its size. Masks must be binary
    unless ``mask_threshold`` (0..254, recorded in the split info) says where a soft mask is a defect.
    """
    if mask_threshold is not None and not (isinstance(mask_threshold, int) and 0 <= mask_threshold < 255):
        raise DefectbookError(f"mask_threshold must be an integer in [0, 254] or None, got {mask_threshold!r}")
    normal = list_images(_dir(normal_dir, "normal images"))
    if not normal:
        raise DefectbookError(f"empty split: no images in normal folder {normal_dir}")
    if not 0 <= test_split_ratio < 1:
        raise DefectbookError(f"test_split_ratio must be in [0, 1), got {test_split_ratio}")
    abnormal = list_images(_dir(abnormal_dir, "abnormal images")) if abnormal_dir is not None else []
    n_test = int(round(test_split_ratio * len(normal)))
    if test_split_ratio > 0:
        n_test = max(1, n_test)
    if n_test >= len(normal):
        raise DefectbookError(
            f"test_split_ratio {test_split_ratio} leaves no training images of {len(normal)} normal ones"
        )
    perm = seeded_rng(seed, "folder").permutation(len(normal))
    test_idx = set(perm[:n_test].tolist())
    train = [Sample(p, 0, "good", None, category) for i, p in enumerate(normal) if i not in test_idx]
    test = [Sample(p, 0, "good", None, category) for i, p in enumerate(normal) if i in test_idx]
    kind = Path(abnormal_dir).name if abnormal_dir is not None else "abnormal"
    masks = _dir(mask_dir, "mask") if mask_dir is not None else None
    for p in abnormal:
        m = None
        if masks is not None:
            m = _match_mask(masks, p.stem)
            if m is None:
                raise DefectbookError(f"missing mask for {p}: no {p.stem}.png or {p.stem}_mask.png in {masks}")
        test.append(Sample(p, 1, kind, m, category, mask_threshold))
    info = {"name": f"folder:{category}", "dataset": "folder", "category": category, "normal_dir": str(normal_dir),
            "abnormal_dir": None if abnormal_dir is None else str(abnormal_dir), "seed": int(seed),
            "test_split_ratio": float(test_split_ratio), "n_train": len(train), "n_test": len(test),
            "n_defective": len(abnormal), "mask_threshold": mask_threshold}
    if masks is None:
        info["note"] = "no mask folder: metrics are image-level only"
    return Split(train, test, masks is not None, info)


def _match_mask(folder: Path, stem: str) -> Path | None:
    for suffix in ("", "_mask"):
        for ext in IMAGE_SUFFIXES:
            for e in (ext, ext.upper()):
                cand = folder / f"{stem}{suffix}{e}"
                if cand.is_file():
                    return cand
    return None
