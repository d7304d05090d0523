"""A fitted model a user can deploy: the detector, its image transform and its decision threshold in one folder.

:func:`save_deployable` writes, for one experiment config, the folder::

    MODEL/detector/      the fitted detector (Detector.save: params.json + state.pt, checksummed)
    MODEL/deploy.json    method, transform (resize, crop), threshold and where it came from, with a SHA-256
                         checksum of its own content

:func:`predict_folder` reads it back (:meth:`Detector.load` checks the detector; a ``deploy.json`` that fails
its checksum is refused) and scores new images: ``scores.csv`` (one row per image: file, score, and whether
it is above the threshold) and, for a method with anomaly maps, ``maps/<name>.npy`` (the map, float32, at
the transform's resolution; ``<name>``: the image's, see :func:`map_names`) and ``maps/<name>.png`` (the map in
colour, one scale for every image of the run).
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import torch

from .. import DefectbookError
from ..config import normalize
from ..data.base import IMAGE_SUFFIXES, list_images, read_image
from ..data.transforms import make_transform
from ..methods.base import Detector, batches
from ..utils import progress
from .keys import key_of
from .run import fitted

log = logging.getLogger("defectbook")
FORMAT = 1
BATCH = 16


def _checksum(meta: dict) -> str:
    body = {k: v for k, v in meta.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def save_deployable(config: dict, folder, threshold: dict | None = None) -> Path:
    """Fit (or load from the model store) the detector of ``config`` and save it with its transform and
    ``threshold`` (e.g. :func:`defectbook.analysis.compare.threshold`'s dict) under ``folder``."""
    c = normalize(config)
    det, _ = fitted(c)
    folder = Path(folder)
    det.save(folder / "detector", key=key_of(c))
    meta = {"format": FORMAT, "method": c["method"], "transform": c["transform"], "key": key_of(c),
            "data": {k: c[k] for k in ("dataset", "category", "data_root")}, "profile": c.get("profile"),
            "seed": c["seed"], "threshold": threshold}
    meta = json.loads(json.dumps(meta, default=str))
    meta["checksum"] = _checksum(meta)
    (folder / "deploy.json").write_text(json.dumps(meta, indent=1))
    return folder


def load_deployable(folder, device: str | None = None) -> tuple[Detector, dict]:
    """``(detector, deploy.json)`` of a folder :func:`save_deployable` wrote (``device``: where it runs, None: the
    device it was fitted for); a clear error for anything else."""
    folder = Path(folder)
    meta_path = folder / "deploy.json"
    if not meta_path.is_file():
        raise DefectbookError(f"{folder} is not a saved model: no deploy.json (save one with `defectbook compare`)")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DefectbookError(f"{meta_path} is not readable JSON: save the model again") from None
    if not isinstance(meta, dict) or meta.get("checksum") != _checksum(meta):
        raise DefectbookError(f"{meta_path} fails its checksum (changed or damaged): save the model again")
    if meta.get("format") != FORMAT:
        raise DefectbookError(f"{meta_path} has format {meta.get('format')}, this version reads {FORMAT}")
    det = Detector.load(folder / "detector", device=device)
    if det.name != meta["method"]:
        raise DefectbookError(f"{folder}: deploy.json names {meta['method']} but the detector is {det.name}")
    return det, meta


def image_files(paths) -> list[Path]:
    """The image files of ``paths`` (files, or folders: the images directly inside, by name)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += list_images(p)
        elif p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            out.append(p)
        else:
            raise DefectbookError(f"{p} is neither an image ({', '.join(IMAGE_SUFFIXES)}) nor a folder of images")
    if not out:
        raise DefectbookError(f"no images in {', '.join(map(str, paths))}")
    return out


def map_names(files: list[Path]) -> list[str]:
    """A file name (no suffix) for each image's map: its stem, ``<folder>_<stem>`` where stems repeat, and a
    running number in front where those repeat too."""
    for names in ([p.stem for p in files], [f"{p.parent.name}_{p.stem}" for p in files]):
        if len(set(names)) == len(names):
            return names
    return [f"{i:05d}_{p.stem}" for i, p in enumerate(files)]


def _colour(maps: np.ndarray) -> np.ndarray:
    """Maps ``[N, H, W]`` as RGB ``uint8`` in matplotlib's ``jet``, one scale (min to max of all)."""
    from matplotlib import colormaps

    lo, hi = float(maps.min()), float(maps.max())
    scaled = (maps - lo) / max(hi - lo, 1e-12)
    return (colormaps["jet"](scaled)[..., :3] * 255).round().astype(np.uint8)


def predict_folder(model, images, out, device: str | None = None) -> dict:
    """Score ``images`` (files or folders) with the saved ``model`` and write ``scores.csv`` and the maps under
    ``out``; returns ``{"n", "anomalous", "threshold", "scores", "maps"}`` (paths)."""
    from PIL import Image

    det, meta = load_deployable(model, device)
    files = image_files(images if isinstance(images, (list, tuple)) else [images])
    t = meta["transform"]
    tf = make_transform(t["resize"], t.get("crop"))
    scores, maps = [], []
    with torch.no_grad():
        for batch in progress(list(batches(torch.arange(len(files)), BATCH)), desc=f"predict ({det.name})"):
            x = torch.stack([tf(read_image(files[i])) for i in batch.tolist()])
            pred = det.predict(x)
            scores += [float(s) for s in np.asarray(pred.image_scores)]
            if pred.maps is not None:
                maps.append(np.asarray(pred.maps, dtype=np.float32))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    thr = (meta.get("threshold") or {}).get("threshold")
    with open(out / "scores.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "score", "anomalous"] if thr is not None else ["image", "score"])
        for p, s in zip(files, scores):
            w.writerow([str(p), f"{s:.6g}"] + ([int(s > thr)] if thr is not None else []))
    written = []
    if maps:
        all_maps = np.concatenate(maps)
        (out / "maps").mkdir(exist_ok=True)
        for name, m, rgb in zip(map_names(files), all_maps, _colour(all_maps)):
            np.save(out / "maps" / f"{name}.npy", m)
            Image.fromarray(rgb).save(out / "maps" / f"{name}.png")
            written.append(out / "maps" / f"{name}.png")
    n_bad = sum(s > thr for s in scores) if thr is not None else None
    log.info("predict: %d images with %s, %s above the threshold; %s", len(files), det.name,
             "—" if n_bad is None else n_bad, out / "scores.csv")
    return {"n": len(files), "anomalous": n_bad, "threshold": thr, "scores": out / "scores.csv", "maps": written}
