"""Records and result frames with known per-image scores, for the verdict rule's tests."""
from __future__ import annotations

import numpy as np

from defectbook.evaluation.metrics import image_auroc
from defectbook.pipeline.run import frame
from defectbook.pipeline.store import Record


def record(method: str, data: str, scores, labels, seed: int = 0, pixel=None, noise=None, profile="cpu") -> Record:
    """A record of ``method`` on ``mtd:<data>`` with these per-image scores (image AUROC computed from them)."""
    split = {"kind": "noisy", "ratio": noise} if noise is not None else {"kind": "clean"}
    return Record(key=f"{method}-{data}-{seed}-{noise}", config={"method": method, "dataset": "mtd", "category": data,
                                                                  "seed": seed, "profile": profile, "split": split},
                  metrics={"image_auroc": image_auroc(labels, scores), "pixel_auroc": pixel}, timings={"fit_s": 1.0},
                  memory={}, scores=list(map(float, scores)), labels=list(labels), defects=["x"] * len(labels))


def separated(strength: float, n: int = 60, seed: int = 0) -> tuple[list, np.ndarray]:
    """Labels (``n`` of each class) and scores shifted by ``strength`` on the defective ones."""
    rng = np.random.default_rng(seed)
    labels = [0] * n + [1] * n
    return labels, strength * np.array(labels) + rng.normal(size=2 * n)


def records_frame(records):
    """:func:`defectbook.pipeline.run.frame` of ``records``."""
    return frame(records)
