"""Evaluation metrics of unsupervised defect detection (image level and pixel level).

Conventions: higher scores mean "more anomalous"; labels and masks are ``{0, 1}`` (1 = defect).
Inputs may be numpy arrays, lists or (CPU or GPU) torch tensors.

Definitions
-----------
* **Image AUROC** -- area under the ROC curve of the image scores ``[N]`` against the image labels
  ``[N]`` (ties count one half, as in :func:`sklearn.metrics.roc_auc_score`).
* **Image F1-max** -- the best F1 score ``2PR / (P + R)`` over all thresholds ``score >= t`` of the
  image scores.
* **Pixel AUROC** -- the ROC AUC of all pixels of the test set pooled together (maps ``[N, H, W]``
  against masks ``[N, H, W]``).
* **AUPRO** -- the normalised area under the per-region-overlap (PRO) curve up to a false-positive
  rate of ``fpr_limit`` (0.3 by default), as in the official MVTec AD evaluation (Bergmann et al.,
  "The MVTec Anomaly Detection Dataset", IJCV 2021; ``generic_util.compute_pro`` and
  ``trapezoid``).  The ground-truth *regions* are the 8-connected components of every mask
  (defect-free images contribute negative pixels only).  For a threshold ``t`` a pixel is predicted
  defective when its score is ``>= t``;

  - ``PRO(t)`` = mean over **all regions of the test set** of ``|predicted ∩ region| / |region|``
    (every region counts equally, whatever its size);
  - ``FPR(t)`` = predicted defect-free pixels / all defect-free pixels of the test set.

  The curve has one point per distinct score (equal scores enter together) and starts at (0, 0);
  it is integrated with the trapezoid rule from FPR 0 to ``fpr_limit``, the curve being linearly
  interpolated at exactly ``fpr_limit``, and the area is divided by ``fpr_limit`` (a perfect map
  gives 1.0).  The computation is exact (all thresholds) and needs one sort of all pixels.

:func:`evaluate` bundles the metrics into a JSON-serialisable dict.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage
from sklearn.metrics import precision_recall_curve, roc_auc_score

from .. import DefectbookError

__all__ = ["image_auroc", "pixel_auroc", "aupro", "pro_curve", "f1_max", "evaluate"]

# 8-connectivity for the ground-truth regions (as in the MVTec AD evaluation code).
_STRUCTURE = np.ones((3, 3), dtype=int)


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _to_numpy(x: Any) -> np.ndarray:
    """A numpy view/copy of ``x`` (torch tensors are detached and moved to the CPU)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _check_binary(a: np.ndarray, what: str) -> np.ndarray:
    """``a`` as a bool array; error unless every value is 0 or 1."""
    if a.dtype == bool:
        return a
    if not (np.issubdtype(a.dtype, np.number)):
        raise DefectbookError(f"{what} must be numeric 0/1 values, got dtype {a.dtype}")
    if np.any((a != 0) & (a != 1)):
        raise DefectbookError(f"{what} must contain only 0 and 1 (got other values, e.g. a 0/255 mask?)")
    return a != 0


def _check_scores(s: np.ndarray, what: str) -> np.ndarray:
    """``s`` as a float array (float32 and float64 kept, other types become float32); error on
    NaN/inf."""
    if not np.issubdtype(s.dtype, np.number) and s.dtype != bool:
        raise DefectbookError(f"{what} must be numeric, got dtype {s.dtype}")
    if s.dtype not in (np.float32, np.float64):
        s = s.astype(np.float32)
    if not np.all(np.isfinite(s)):
        raise DefectbookError(f"{what} contain NaN or inf values; fix the detector output before evaluating")
    return s


def _image_inputs(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``labels [N]`` (bool) and ``scores [N]`` (float)."""
    labels, scores = _to_numpy(labels), _to_numpy(scores)
    if labels.ndim != 1 or scores.ndim != 1:
        raise DefectbookError(
            f"labels and scores must be 1-D [N], got shapes {labels.shape} and {scores.shape}"
        )
    if labels.shape[0] != scores.shape[0]:
        raise DefectbookError(f"labels and scores differ in length: {labels.shape[0]} vs {scores.shape[0]}")
    if labels.shape[0] == 0:
        raise DefectbookError("no images to evaluate (labels and scores are empty)")
    return _check_binary(labels, "labels"), _check_scores(scores, "image scores")


def _pixel_inputs(masks: Any, maps: Any) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``masks [N, H, W]`` (bool) and ``maps [N, H, W]`` (float32/float64)."""
    masks, maps = _to_numpy(masks), _to_numpy(maps)
    if masks.ndim != 3:
        raise DefectbookError(f"masks must have shape [N, H, W], got {masks.shape}")
    if maps.shape != masks.shape:
        raise DefectbookError(f"maps shape {maps.shape} differs from masks shape {masks.shape}")
    if masks.size == 0:
        raise DefectbookError(f"masks and maps are empty (shape {masks.shape})")
    masks = _check_binary(masks, "masks")
    maps = _check_scores(maps, "anomaly maps")
    if not masks.any():
        raise DefectbookError("masks contain no defect pixel: pixel metrics are undefined")
    if masks.all():
        raise DefectbookError("masks contain no defect-free pixel: pixel metrics are undefined")
    return masks, maps


# --------------------------------------------------------------------------------------------
# image level
# --------------------------------------------------------------------------------------------
def image_auroc(labels: Any, scores: Any) -> float:
    """ROC AUC of image ``scores [N]`` (higher = anomalous) against ``labels [N]`` in ``{0, 1}``.

    Raises :class:`DefectbookError` if the lengths differ, the scores contain NaN/inf or only one
    class is present.
    """
    labels, scores = _image_inputs(labels, scores)
    if labels.all() or not labels.any():
        raise DefectbookError(
            f"image AUROC needs both defect-free and defective images, got only label {int(labels[0])}"
        )
    return float(roc_auc_score(labels, scores))


def _class_bootstrap(labels: np.ndarray, n_boot: int, seed: int):
    """Index resamples of ``labels`` drawn with replacement within each class (every resample has both)."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    for _ in range(n_boot):
        yield np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])


def _boot_aurocs(labels: np.ndarray, score_sets: list[np.ndarray], n_boot: int, seed: int,
                 chunk: int = 256) -> np.ndarray:
    """AUROCs ``[len(score_sets), n_boot]`` of each score set on the resamples of :func:`_class_bootstrap`.

    Exact and vectorised: a resample is a count per test image (within its class), and the AUROC of a
    resample is the count-weighted Mann-Whitney statistic (a defective image above a defect-free one
    counts 1, a tie 1/2), which is what ``roc_auc_score`` returns on the resampled lists."""
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    rank_pos = np.zeros(len(labels), dtype=np.int64)
    rank_pos[pos], rank_pos[neg] = np.arange(len(pos)), np.arange(len(neg))
    K = [(np.sign(s[pos][:, None] - s[neg][None, :]) * 0.5 + 0.5) for s in score_sets]   # [n_pos, n_neg] each
    out = np.empty((len(score_sets), n_boot))
    draws = _class_bootstrap(labels, n_boot, seed)
    for start in range(0, n_boot, chunk):
        idx = [next(draws) for _ in range(min(chunk, n_boot - start))]
        wp = np.stack([np.bincount(rank_pos[i[:len(pos)]], minlength=len(pos)) for i in idx]).astype(float)
        wn = np.stack([np.bincount(rank_pos[i[len(pos):]], minlength=len(neg)) for i in idx]).astype(float)
        norm = len(pos) * len(neg)
        for j, k in enumerate(K):
            out[j, start:start + len(idx)] = ((wp @ k) * wn).sum(1) / norm
    return out


def auroc_interval(labels: Any, scores: Any, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Image AUROC with a bootstrap percentile interval (test images resampled within each class):
    ``{"auroc", "low", "high", "n_boot"}``. The interval shows how much the AUROC of this many test
    images moves by sampling alone."""
    labels, scores = _image_inputs(labels, scores)
    value = image_auroc(labels, scores)
    boot = _boot_aurocs(labels, [scores], n_boot, seed)[0]
    q = (1 - level) / 2
    return {"auroc": value, "low": float(np.quantile(boot, q)), "high": float(np.quantile(boot, 1 - q)),
            "n_boot": int(n_boot)}


def auroc_difference(labels: Any, scores_a: Any, scores_b: Any, n_boot: int = 2000, seed: int = 0,
                     level: float = 0.95) -> dict:
    """Image AUROC of ``scores_a`` minus that of ``scores_b`` on the same test images, with a paired
    bootstrap interval: images are resampled with replacement (within each class, so every resample has
    both), both AUROCs recomputed on the resample. Returns ``{"difference", "low", "high", "n_boot"}``
    (``level`` two-sided percentile interval)."""
    labels, a = _image_inputs(labels, scores_a)
    _, b = _image_inputs(labels, scores_b)
    if len(a) != len(b):
        raise DefectbookError(f"the two score lists differ in length: {len(a)} and {len(b)}")
    diff = image_auroc(labels, a) - image_auroc(labels, b)
    ba, bb = _boot_aurocs(labels, [a, b], n_boot, seed)
    boot = ba - bb
    q = (1 - level) / 2
    return {"difference": float(diff), "low": float(np.quantile(boot, q)), "high": float(np.quantile(boot, 1 - q)),
            "n_boot": int(n_boot)}


def f1_max(labels: Any, scores: Any) -> float:
    """Best F1 over all thresholds ``score >= t`` of image ``scores [N]`` against ``labels [N]``.

    Raises :class:`DefectbookError` on length mismatch, NaN/inf scores or no defective image.
    """
    labels, scores = _image_inputs(labels, scores)
    if not labels.any():
        raise DefectbookError("F1-max needs at least one defective image (label 1), got none")
    precision, recall, _ = precision_recall_curve(labels, scores)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return float(f1.max())


# --------------------------------------------------------------------------------------------
# pixel level
# --------------------------------------------------------------------------------------------
def pixel_auroc(masks: Any, maps: Any) -> float:
    """ROC AUC of all pixels pooled: ``maps [N, H, W]`` float against ``masks [N, H, W]`` in ``{0, 1}``.

    Raises :class:`DefectbookError` on shape mismatch, NaN/inf in the maps, or masks without a
    defect pixel (or without a defect-free pixel).
    """
    masks, maps = _pixel_inputs(masks, maps)
    return _binary_auroc(masks.ravel(), maps.ravel())


def pixel_auroc_difference(masks: Any, maps_a: Any, maps_b: Any, n_boot: int = 200, seed: int = 0,
                           level: float = 0.95) -> dict:
    """Pixel AUROC of ``maps_a`` minus that of ``maps_b`` (both ``[N, H, W]``, against ``masks``) with a
    paired bootstrap interval over test images (images resampled with replacement, both pixel AUROCs
    recomputed on the pooled pixels of the resample; resamples without a defect pixel are redrawn).
    Returns ``{"difference", "low", "high", "n_boot"}``."""
    masks, a = _pixel_inputs(masks, maps_a)
    _, b = _pixel_inputs(masks, maps_b)
    if a.shape != b.shape:
        raise DefectbookError(f"the two map stacks differ in shape: {a.shape} and {b.shape}")
    diff = pixel_auroc(masks, a) - pixel_auroc(masks, b)
    rng = np.random.default_rng(seed)
    has = masks.reshape(len(masks), -1).any(1)
    boot = []
    while len(boot) < n_boot:
        i = rng.integers(0, len(masks), len(masks))
        if not has[i].any() or masks[i].all():
            continue
        m = masks[i].ravel()
        boot.append(_binary_auroc(m, a[i].ravel()) - _binary_auroc(m, b[i].ravel()))
    q = (1 - level) / 2
    return {"difference": float(diff), "low": float(np.quantile(boot, q)), "high": float(np.quantile(boot, 1 - q)),
            "n_boot": int(n_boot)}


def pixel_precision_recall(masks: Any, maps: Any, threshold: float) -> dict:
    """Per-pixel precision and recall of the mask ``maps >= threshold`` against ``masks`` (both
    ``[H, W]`` or ``[N, H, W]``, pooled over images): ``{"precision", "recall", "flagged"}`` (``flagged``:
    the share of pixels at or above the threshold). Precision is NaN when no pixel is flagged, recall
    when the masks hold no defect pixel (a defect-free image)."""
    from sklearn.metrics import precision_score, recall_score

    masks, maps = _to_numpy(masks), _to_numpy(maps)
    if maps.shape != masks.shape or masks.ndim not in (2, 3) or masks.size == 0:
        raise DefectbookError(f"masks {masks.shape} and maps {maps.shape} must share one shape, [H, W] or [N, H, W]")
    y = _check_binary(masks, "masks").ravel()
    pred = _check_scores(maps, "anomaly maps").ravel() >= threshold
    nan = float("nan")
    return {"precision": float(precision_score(y, pred, zero_division=nan)),
            "recall": float(recall_score(y, pred, zero_division=nan)), "flagged": float(pred.mean())}


def _region_ids(masks: np.ndarray) -> tuple[np.ndarray, int]:
    """Region id of every pixel, ``[N, H, W]`` int32: 0 for defect-free pixels, ``1..R`` for the
    8-connected components of the masks numbered across the whole set; returns ``(ids, R)``."""
    ids = np.zeros(masks.shape, dtype=np.int32)
    offset = 0
    for i in range(masks.shape[0]):
        if not masks[i].any():
            continue
        lab, n = ndimage.label(masks[i], structure=_STRUCTURE)
        ids[i] = np.where(lab > 0, lab + offset, 0)
        offset += n
    return ids, offset


def _cumulate_by_threshold(
    scores: np.ndarray, ids: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Counts at every distinct threshold, by one sort.

    ``scores [M]`` float, ``ids [M]`` int (0 = negative pixel, ``k >= 1`` = positive of group
    ``k``), ``weights [R + 1]`` float (gain of one positive of group ``k``).  For the ``K``
    distinct scores ``t`` in decreasing order returns ``(fp [K] int64, gain [K] float64)``:
    the number of negatives with score ``>= t`` and the summed weights of positives with score
    ``>= t``.  Equal scores enter together.
    """
    order = np.argsort(scores)[::-1]  # descending scores
    scores_sorted = scores[order]
    ids_sorted = ids[order]
    del order
    # last position of each run of equal scores: one point per distinct threshold
    ends = np.flatnonzero(scores_sorted[1:] != scores_sorted[:-1])
    ends = np.append(ends, scores.shape[0] - 1)
    del scores_sorted
    # cumulate over the positives alone (usually few), then look them up at the run ends
    pos_at = np.flatnonzero(ids_sorted)
    gain_cum = np.concatenate(([0.0], np.cumsum(weights[ids_sorted[pos_at]], dtype=np.float64)))
    del ids_sorted
    n_pos = np.searchsorted(pos_at, ends, side="right")  # positives among the first ends + 1
    del pos_at
    fp = ends
    fp += 1
    fp -= n_pos  # in place: negatives among the first ends + 1
    gain = np.take(gain_cum, n_pos)
    return fp, gain


def _binary_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Exact ROC AUC (ties count one half) of ``scores [M]`` against bool ``labels [M]`` with both
    classes present: trapezoid area under the ROC points at all distinct thresholds."""
    fp, tp = _cumulate_by_threshold(scores, labels.view(np.uint8), np.array([0.0, 1.0]))
    fpr = np.concatenate(([0.0], fp / fp[-1]))
    tpr = np.concatenate(([0.0], tp / tp[-1]))
    return float(np.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) * 0.5))


def pro_curve(masks: Any, maps: Any) -> tuple[np.ndarray, np.ndarray]:
    """Exact PRO curve: ``masks [N, H, W]`` in ``{0, 1}``, ``maps [N, H, W]`` float.

    Returns ``(fpr, pro)``, two float64 arrays ``[K + 1]``: the point (0, 0) followed by one point
    per distinct map value ``t`` in decreasing order (pixels with score ``>= t`` predicted
    defective); ``fpr`` is non-decreasing and the last point is (1, 1).  PRO averages the overlap
    over all 8-connected regions of the whole set.  See the module docstring.
    """
    masks, maps = _pixel_inputs(masks, maps)
    ids, num_regions = _region_ids(masks)
    del masks
    sizes = np.bincount(ids.ravel(), minlength=num_regions + 1)
    weights = 1.0 / np.maximum(sizes, 1)  # PRO gain of one pixel of region k, times num_regions
    weights[0] = 0.0
    num_negatives = int(sizes[0])
    fp, gain = _cumulate_by_threshold(maps.ravel(), ids.ravel(), weights)
    del ids
    fpr = np.empty(fp.shape[0] + 1)
    fpr[0] = 0.0
    np.divide(fp, num_negatives, out=fpr[1:])
    del fp
    pro = np.empty_like(fpr)
    pro[0] = 0.0
    np.divide(gain, num_regions, out=pro[1:])
    del gain
    np.minimum(pro, 1.0, out=pro)
    pro[-1] = 1.0  # every pixel predicted defective: exactly 1 (drops the cumsum rounding)
    return fpr, pro


def _trapezoid_upto(x: np.ndarray, y: np.ndarray, x_max: float) -> float:
    """Trapezoid area under ``y(x)`` from ``x[0]`` to ``x_max`` (``x [K]`` non-decreasing with
    ``x[0] <= x_max <= x[-1]``), ``y`` linearly interpolated at ``x_max`` if it is not a point."""
    k = int(np.searchsorted(x, x_max, side="right"))  # points with x <= x_max
    xs, ys = x[:k], y[:k]
    if xs[-1] < x_max:
        x0, y0, x1, y1 = x[k - 1], y[k - 1], x[k], y[k]
        y_at = y0 + (y1 - y0) * (x_max - x0) / (x1 - x0)
        xs, ys = np.append(xs, x_max), np.append(ys, y_at)
    return float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) * 0.5))


def aupro(masks: Any, maps: Any, fpr_limit: float = 0.3) -> float:
    """Normalised area under the PRO curve up to ``fpr_limit`` (MVTec AD protocol; 1.0 = perfect).

    ``masks [N, H, W]`` in ``{0, 1}``, ``maps [N, H, W]`` float (higher = anomalous); exact over
    all distinct thresholds (see :func:`pro_curve`).  ``fpr_limit`` must lie in ``(0, 1]``.
    Raises :class:`DefectbookError` on shape mismatch, NaN/inf in the maps or masks without a
    defect pixel.
    """
    fpr_limit = float(fpr_limit)
    if not 0.0 < fpr_limit <= 1.0:
        raise DefectbookError(f"fpr_limit must be in (0, 1], got {fpr_limit}")
    fpr, pro = pro_curve(masks, maps)
    return _trapezoid_upto(fpr, pro, fpr_limit) / fpr_limit


# --------------------------------------------------------------------------------------------
# all together
# --------------------------------------------------------------------------------------------
def evaluate(
    labels: Any, scores: Any, masks: Any = None, maps: Any = None, fpr_limit: float = 0.3
) -> dict:
    """All metrics of one experiment as a JSON-serialisable dict of plain floats.

    ``labels [N]`` in ``{0, 1}``, ``scores [N]``; optional ``masks [N, H, W]`` in ``{0, 1}`` and
    ``maps [N, H, W]``.  Keys: ``image_auroc``, ``image_f1_max``, ``pixel_auroc``, ``aupro``,
    ``aupro_fpr_limit`` and ``pixel_metrics`` (``"available"``, or ``"unavailable: <reason>"`` with
    ``pixel_auroc`` and ``aupro`` set to ``None``, when masks or maps are missing or the masks have
    no defect pixel).  Invalid inputs (shape mismatch, NaN, ...) raise :class:`DefectbookError`.
    """
    labels_np, _ = _image_inputs(labels, scores)
    result: dict = {
        "image_auroc": image_auroc(labels, scores),
        "image_f1_max": f1_max(labels, scores),
        "pixel_auroc": None,
        "aupro": None,
        "aupro_fpr_limit": float(fpr_limit),
    }
    if masks is None or maps is None:
        missing = "masks" if masks is None else "maps"
        if masks is None and maps is None:
            missing = "masks and maps"
        result["pixel_metrics"] = f"unavailable: no {missing} given"
        return result
    masks_np, maps_np = _to_numpy(masks), _to_numpy(maps)
    if masks_np.ndim != 3 or masks_np.shape[0] != labels_np.shape[0]:
        raise DefectbookError(
            f"masks must have shape [N, H, W] with N = {labels_np.shape[0]} images, got {masks_np.shape}"
        )
    if not np.any(masks_np):
        result["pixel_metrics"] = "unavailable: masks contain no defect pixel"
        return result
    result["pixel_auroc"] = pixel_auroc(masks_np, maps_np)
    result["aupro"] = aupro(masks_np, maps_np, fpr_limit)
    result["pixel_metrics"] = "available"
    return result
