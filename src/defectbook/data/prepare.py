"""The data of an experiment config: its (noisy / few-shot / capped) split and its tensors."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from .. import DefectbookError
from ..config import normalize
from ..paths import cache_dir
from ..paths import data_root as default_data_root
from . import PACKAGED, load_images, load_masks, load_split, splits
from .base import Split
from .fingerprint import fingerprint
from .transforms import make_mask_transform, make_transform


def data_fingerprint(config: dict) -> dict:
    """:func:`defectbook.data.fingerprint.fingerprint` of the config's split (lists files, reads no image)."""
    return fingerprint(load_split_for(config))


@dataclass
class Prepared:
    """Tensors of one split: ``train [N,3,H,W]``, ``test [M,3,H,W]`` in [0,1], ``masks [M,H,W]`` or
    None, ``labels [M]``, ``defects`` (defect type per test image) and the ``split`` itself."""

    train: torch.Tensor
    test: torch.Tensor
    masks: torch.Tensor | None
    labels: np.ndarray
    defects: list
    split: object


def _subset(samples: list, n: int | None, seed: int, stratify: bool = False) -> list:
    if n is None or n >= len(samples):
        return samples
    rng = np.random.default_rng(seed)
    if not stratify:
        return [samples[i] for i in sorted(rng.choice(len(samples), n, replace=False))]
    good = [i for i, s in enumerate(samples) if s.label == 0]
    bad = [i for i, s in enumerate(samples) if s.label == 1]
    n_good = max(1, round(n * len(good) / len(samples))) if good else 0
    pick = list(rng.choice(good, min(n_good, len(good)), replace=False)) + \
        list(rng.choice(bad, min(n - n_good, len(bad)), replace=False))
    return [samples[i] for i in sorted(pick)]


def load_split_for(config: dict):
    """The (possibly noisy / few-shot / capped) :class:`~defectbook.data.Split` of a config."""
    c = normalize(config, need_method=False)
    kw = dict(c["data"])
    if c["dataset"] == "synthetic":
        kw.setdefault("cache_dir", str(cache_dir() / "synthetic"))
        root = None
    else:
        root = c["data_root"] or default_data_root()
        if root is None and c["dataset"] not in PACKAGED:   # ELPV: read from its installed package
            raise DefectbookError(
                f"dataset {c['dataset']!r} needs a data root: pass --data-root or set DEFECTBOOK_DATA"
            )
    split = load_split(c["dataset"], c["category"], root=root, **kw)
    s, seed = c["split"], c["seed"]
    kind = s.get("kind", "clean")
    if kind == "noisy":
        split = splits.noisy_split(split, s["ratio"], seed=seed, fixed_test=bool(s.get("fixed_test")))
    elif kind == "few_shot":
        split = splits.few_shot(split, s["n"], seed=seed)
    elif kind != "clean":
        raise DefectbookError(f"unknown split kind {kind!r}; known: clean, noisy, few_shot")
    if s.get("max_train") or s.get("max_test"):
        split = Split(_subset(split.train, s.get("max_train"), seed),
                      _subset(split.test, s.get("max_test"), seed, True),
                      split.has_masks,
                      dict(split.info, capped={"max_train": s.get("max_train"), "max_test": s.get("max_test")}))
    return split


@lru_cache(maxsize=4)
def _prepare_cached(blob: str) -> Prepared:
    c = json.loads(blob)
    split = load_split_for(c)
    t = c["transform"]
    tf, mtf = make_transform(t["resize"], t.get("crop")), make_mask_transform(t["resize"], t.get("crop"))
    masks = load_masks(split.test, mtf) if split.has_masks else None
    return Prepared(load_images(split.train, tf), load_images(split.test, tf), masks,
                    np.array([s.label for s in split.test]), [s.defect for s in split.test], split)


def prepare(config: dict) -> Prepared:
    """Load and transform the data of ``config`` (memoised for the last few data configs)."""
    c = normalize(config)
    part = {k: c[k] for k in ("dataset", "category", "data", "split", "transform", "seed", "data_root")}
    if c["dataset"] != "synthetic":  # data changed in place must not be served from the memo
        part["fingerprint"] = data_fingerprint(c)["digest"]
    return _prepare_cached(json.dumps(part, sort_keys=True))

