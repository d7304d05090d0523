"""A tiny results bundle without running anything: stored records of synthetic configs (keyed as the
runner keys them) and rung manifests with hand-made effects."""
from __future__ import annotations

from defectbook.pipeline import bundle, spec
from defectbook.pipeline.keys import key_of
from defectbook.pipeline.store import Record, Store


def fake_record(store: Store, method: str = "padim", seed: int = 0, epochs: int | None = None) -> Record:
    """A stored record of ``method`` on the smoke profile's synthetic weave (scores made up)."""
    chapter = spec.default_chapter(method)
    over = {"epochs": epochs} if epochs is not None else {}
    c = spec.make_config("smoke", chapter, method, "synthetic", "weave", over, seed=seed)
    rec = Record(key=key_of(c), config=c, metrics={"image_auroc": 0.75}, timings={"fit_s": 1.0, "predict_s": 0.5},
                 memory={}, scores=[0.1, 0.9, 0.4, 0.8], labels=[0, 1, 0, 1], defects=["good", "x", "good", "x"],
                 extras={"device": "cpu"})
    return store.put(rec)


def effect(comparison: str, data: str, d: float, half: float = 0.02) -> dict:
    a, b = comparison.split(" − ")
    return {"comparison": comparison, "a": a, "b": b, "data": data, "metric": "image AUROC", "difference": d,
            "low": d - half, "high": d + half, "n": 4, "word": "undecided"}


def tiny_bundle(root, store: Store, claim_id: str, rungs, comparisons, method: str = "padim") -> None:
    """Write one rung per ``(rung id, difference)`` of ``rungs`` for ``claim_id``: each with one fresh record
    and an effect per comparison (``[(comparison, data), ...]``) at that difference."""
    for i, (rid, d) in enumerate(rungs):
        rec = fake_record(store, method, seed=i)
        bundle.write_rung(root, claim_id, rid, [rec], [effect(comp, data, d) for comp, data in comparisons],
                          f"scale ladder {claim_id} {rid}", 60.0 * (i + 1), {"label": rid})
