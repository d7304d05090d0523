"""Tiny stand-ins for the real datasets, with their real names and folder layouts (for dry runs).

:func:`write_replica` writes, under one root, ``mvtec/`` (MVTec AD's 15 categories with real defect
folder names, ``train/good``, ``test/<defect>``, ``ground_truth/<defect>/*_mask.png``), ``mtd/``
(``MT_Free`` and the five ``MT_<defect>`` folders with ``Imgs/*.jpg`` and ``.png`` masks, plus
DifferNet's ``differnet_train_filenames.txt``) and ``dagm/`` (``Class1`` .. ``Class10`` with
``Train``/``Test`` and ``Label/Labels.txt``). The pictures come from the synthetic generator
(:mod:`defectbook.data.synthetic`): textures for texture categories, objects for objects; they are
*not* the real images, and the loaders' results on them mean nothing beyond "the code path runs".
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .synthetic import CATEGORIES as SYNTH
from .synthetic import render_pair

#: MVTec AD category -> (synthetic look-alike, two of its real defect folder names)
MVTEC = {
    "bottle": ("washer", ("broken_large", "contamination")), "cable": ("screw", ("bent_wire", "cut_outer_insulation")),
    "capsule": ("pill", ("crack", "squeeze")), "carpet": ("carpet", ("color", "hole")),
    "grid": ("weave", ("bent", "broken")), "hazelnut": ("pill", ("crack", "print")),
    "leather": ("carpet", ("cut", "poke")), "metal_nut": ("washer", ("bent", "scratch")),
    "pill": ("pill", ("crack", "contamination")), "screw": ("screw", ("scratch_head", "thread_top")),
    "tile": ("weave", ("crack", "oil")), "toothbrush": ("screw", ("defective",)),
    "transistor": ("washer", ("bent_lead", "misplaced")), "wood": ("wood", ("hole", "scratch")),
    "zipper": ("weave", ("broken_teeth", "fabric_border")),
}
MTD_DEFECTS = ("Blowhole", "Break", "Crack", "Fray", "Uneven")
VERSION = 1


def _save(a: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)


def _pair(rng, synth: str, defect: bool, size: int, gray: bool = False):
    kind = SYNTH[synth][int(rng.integers(len(SYNTH[synth])))] if defect else None
    _, img, mask = render_pair(synth, kind, rng, size)
    if gray:
        img = img.mean(-1).astype(np.uint8)
    return img, None if mask is None else (mask.astype(np.uint8) * 255)


def write_replica(root, size: int = 64, n_train: int = 4, n_good: int = 2, n_defect: int = 2, seed: int = 0) -> Path:
    """Write the replica datasets under ``root`` (skipped when ``root/VERSION`` says it is there)."""
    root = Path(root)
    stamp = root / "VERSION"
    want = f"replica {VERSION} size={size} n_train={n_train} n_good={n_good} n_defect={n_defect} seed={seed}\n"
    if stamp.is_file() and stamp.read_text() == want:
        return root
    rng = np.random.default_rng(seed)
    for cat, (synth, defects) in MVTEC.items():
        c = root / "mvtec" / cat
        for i in range(n_train):
            _save(_pair(rng, synth, False, size)[0], c / "train" / "good" / f"{i:03d}.png")
        for i in range(n_good):
            _save(_pair(rng, synth, False, size)[0], c / "test" / "good" / f"{i:03d}.png")
        for d in defects:
            for i in range(n_defect):
                img, mask = _pair(rng, synth, True, size)
                _save(img, c / "test" / d / f"{i:03d}.png")
                _save(mask, c / "ground_truth" / d / f"{i:03d}_mask.png")
    m = root / "mtd"
    names = []
    for i in range(n_train + n_good):
        img, _ = _pair(rng, "weave", False, size + 4 * i, gray=True)   # MTD's images vary in size
        _save(img, m / "MT_Free" / "Imgs" / f"exp{i}_num_{i}.jpg")
        _save(np.zeros(img.shape, np.uint8), m / "MT_Free" / "Imgs" / f"exp{i}_num_{i}.png")
        names.append(f"exp{i}_num_{i}.jpg")
    (m / "differnet_train_filenames.txt").write_text("\n".join(names[:n_train]) + "\n")
    for d in MTD_DEFECTS:
        for i in range(n_defect):
            img, mask = _pair(rng, "weave", True, size, gray=True)
            _save(img, m / f"MT_{d}" / "Imgs" / f"exp{i}_num_{i}.jpg")
            _save(mask, m / f"MT_{d}" / "Imgs" / f"exp{i}_num_{i}.png")
    for k in range(1, 11):
        for part, n in (("Train", n_train + n_defect), ("Test", n_good + 2 * n_defect)):
            d = root / "dagm" / f"Class{k}" / part
            rows = ["1"]
            for i in range(1, n + 1):
                bad = i > n - n_defect
                img, mask = _pair(rng, "carpet", bad, size, gray=True)
                _save(img, d / f"{i:04d}.PNG")
                if bad:
                    _save(mask, d / "Label" / f"{i:04d}_label.PNG")
                    rows.append(f"{i}\t1\t{i:04d}.PNG\t0\t{i:04d}_label.PNG")
                else:
                    rows.append(f"{i}\t0\t{i:04d}.PNG\t0\t0")
            (d / "Label").mkdir(parents=True, exist_ok=True)
            (d / "Label" / "Labels.txt").write_text("\n".join(rows) + "\n")
    stamp.write_text(want)
    return root
