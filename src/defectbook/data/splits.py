"""Derived splits: TrustMAE's noisy training pools and few-shot subsets.

Both take a :class:`~defectbook.data.base.Split` and return a new one (the input is never
changed). Choices are seeded and nested: with the same seed, the defective images moved at a
lower noise ratio are a subset of those moved at a higher one, and the ``n``-shot set is a
subset of the ``m``-shot set for ``n < m``.
"""
from __future__ import annotations

import math

from .. import DefectbookError
from .base import Split, seeded_rng


def _copy_info(split: Split) -> dict:
    return {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
            for k, v in split.info.items()}


def noisy_split(split: Split, ratio: float, seed: int = 0, fixed_test: bool = False) -> Split:
    """TrustMAE's noisy protocol at defect ratio ``ratio`` = defective / all training images.

    Defective images come from the test set; at most half of the defective test images
    (``floor(n / 2)``) may move into training (a seeded choice). If that is not enough to reach
    ``ratio``, normal training images are dropped (seeded) instead. Moved images leave the test
    set; moved samples keep ``label=1`` in training. ``info["noise"]`` records the requested and
    achieved ratios and the counts; ``info["noise_ratio"]`` the achieved ratio.

    ``fixed_test=True`` (the paper's protocol: one test set for every noise level): the whole seeded
    pool of movable defective images (``floor(n / 2)``) leaves the test set at every ratio, 0
    included, so the test set is the same across noise levels; training takes the first ``k`` of it.
    """
    try:
        ratio = float(ratio)
    except (TypeError, ValueError):
        raise DefectbookError(f"noise ratio must be a number in [0, 1), got {ratio!r}") from None
    if not 0 <= ratio < 1:
        raise DefectbookError(f"noise ratio must be in [0, 1), got {ratio}")
    if any(s.label for s in split.train):
        raise DefectbookError("noisy_split needs a clean split: its training set already holds defective images")
    normal = list(split.train)
    defective = [s for s in split.test if s.label == 1]
    movable = len(defective) // 2
    n_norm = len(normal)
    if ratio == 0:
        k, keep = 0, n_norm
    else:
        if movable == 0:
            raise DefectbookError(
                f"noise ratio {ratio}: the test set has {len(defective)} defective images, none can move into training"
            )
        k = max(1, round(ratio * n_norm / (1 - ratio)))
        keep = n_norm
        if k > movable:
            k = movable
            keep = max(1, round(k * (1 - ratio) / ratio))
            keep = min(keep, n_norm)
    rng = seeded_rng(seed, "noisy")
    move_order = rng.permutation(len(defective))
    keep_order = rng.permutation(n_norm)
    moved = [defective[i] for i in sorted(move_order[:k].tolist())]
    kept = [normal[i] for i in sorted(keep_order[:keep].tolist())]
    pool = [defective[i] for i in move_order[:movable].tolist()] if fixed_test else moved
    moved_paths = {s.path for s in pool}
    train = kept + moved
    test = [s for s in split.test if s.path not in moved_paths]
    achieved = k / len(train)
    info = _copy_info(split)
    info["noise"] = {"requested_ratio": ratio, "achieved_ratio": achieved, "seed": int(seed),
                     "n_train_normal": keep, "n_train_defective": k, "n_normal_dropped": n_norm - keep,
                     "n_defective_moved": k, "max_movable": movable, "n_test": len(test),
                     "n_test_defective": len(defective) - len(moved_paths), "fixed_test": bool(fixed_test)}
    info["noise_ratio"] = achieved
    if not math.isclose(achieved, ratio, abs_tol=0.02) and ratio > 0:
        info["noise"]["note"] = (
            f"achieved defect ratio {achieved:.3f} differs from the requested {ratio:.3f} (small counts)"
        )
    return Split(train, test, split.has_masks, info)


def few_shot(split: Split, n: int, seed: int = 0) -> Split:
    """A split with ``n`` training images drawn (seeded) from ``split.train``; test unchanged."""
    if isinstance(n, bool) or not isinstance(n, int) and not (isinstance(n, float) and n.is_integer()):
        raise DefectbookError(f"few-shot n must be a whole number, got {n!r}")
    n = int(n)
    if n < 1:
        raise DefectbookError(f"few-shot n must be at least 1, got {n}")
    if n > len(split.train):
        raise DefectbookError(f"few-shot n={n} but only {len(split.train)} training images are available")
    order = seeded_rng(seed, "few_shot").permutation(len(split.train))
    train = [split.train[i] for i in sorted(order[:n].tolist())]
    info = _copy_info(split)
    info["few_shot"] = {"n": n, "seed": int(seed), "n_available": len(split.train)}
    return Split(train, list(split.test), split.has_masks, info)
