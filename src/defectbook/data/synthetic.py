"""A procedural defect dataset in MVTec AD layout, deterministic from a seed.

Six categories, drawn with numpy / scipy: three textures (``weave``, ``wood``, ``carpet``) and
three objects on a dark background (``screw``, ``washer``, ``pill``). Each has three defect kinds
(:data:`CATEGORIES`) among ``scratch``, ``hole``, ``stain``, ``crack``, ``missing`` (a part of the
object is gone) and ``worn`` (a worn thread section).

Normal variation: global gain/offset and a lighting gradient, sensor noise, random texture phase
and noise, small shifts, rotations and scale changes of the objects, colour jitter.

Masks are exact: a defective image is rendered twice from the same random draws, once without the
defect, and its mask is the set of pixels whose 8-bit values differ between the two renderings.
``difficulty`` (default 1) divides the defects' contrast and, by its square root, their size:
above 1 defects get subtler, below 1 bolder.

Every image has its own random stream ``(seed, category, part, kind, index)``, so an image does
not depend on the counts or on which other categories are generated.

Shapes: all images ``size x size`` RGB (uint8 PNG), masks ``size x size`` mode ``L`` in {0, 255}.

Every generated folder holds ``MANIFEST.json`` (:data:`MANIFEST`): the generator version, the
parameters and each file's size and SHA-256. A cached dataset is used only when its files match it
(:func:`verify_cache`), so a deleted or changed image never stands in for the intact data.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from .. import DefectbookError
from ..paths import file_sha256
from .base import seeded_rng

#: Bumped whenever the generator's output changes (part of the cache key).
GENERATOR_VERSION = 3

#: ``category -> defect kinds`` (the order of the test folders).
CATEGORIES: dict[str, tuple[str, ...]] = {
    "weave": ("hole", "scratch", "stain"),
    "wood": ("crack", "scratch", "stain"),
    "carpet": ("hole", "scratch", "stain"),
    "screw": ("missing", "scratch", "worn"),
    "washer": ("hole", "missing", "stain"),
    "pill": ("crack", "missing", "stain"),
}
TEXTURES = ("weave", "wood", "carpet")
OBJECTS = ("screw", "washer", "pill")

#: The largest image side :func:`generate` accepts (the renderer holds several float ``[S, S, 3]`` arrays).
MAX_SIZE = 1024

#: The file in every generated folder that lists its files (sizes, SHA-256), version and parameters.
MANIFEST = "MANIFEST.json"
MANIFEST_FORMAT = "defectbook-synthetic-manifest-1"

DEFAULTS = {"size": 128, "n_train": 60, "n_test_good": 20, "n_test_defect": 8, "seed": 0, "difficulty": 1.0}

#: How the defects' strengths were chosen, in words (every synthetic page's provenance line says it).
CALIBRATION = ("synthetic data calibrated without any compared method: every defect kind changes its pixels by "
               "the same multiple of the per-pixel variation of the normal images, that multiple set so that a "
               "pixel-difference baseline (distance to the mean normal image) finds the defects neither trivially nor "
               "not at all (benchmarks/calibrate_synthetic.md)")

# Base strength of each defect at difficulty 1 (contrast as a share of the local intensity range;
# sizes as a share of the image side). AMP is calibrated without any detector (version 3): each kind's
# amplitude gives it the same contrast ratio (mean change inside the mask / the normal images' per-pixel
# standard deviation there), the common ratio chosen so that a pixel-difference baseline's mean image
# AUROC lies between 0.6 and 0.8 (benchmarks/calibrate_synthetic.py; version 2 had been tuned on
# PaDiM's AUROC). SIZE is version 2's.
AMP = {
    ("weave", "hole"): 1.0, ("weave", "scratch"): 1.0, ("weave", "stain"): 1.234,
    ("wood", "crack"): 0.744, ("wood", "scratch"): 0.812, ("wood", "stain"): 0.782,
    ("carpet", "hole"): 0.952, ("carpet", "scratch"): 0.476, ("carpet", "stain"): 0.738,
    ("screw", "missing"): 1.0, ("screw", "scratch"): 1.0, ("screw", "worn"): 1.0,
    ("washer", "hole"): 0.871, ("washer", "missing"): 1.0, ("washer", "stain"): 0.927,
    ("pill", "crack"): 0.966, ("pill", "missing"): 1.0, ("pill", "stain"): 1.824,
}
SIZE = {
    ("weave", "hole"): 0.045, ("weave", "scratch"): 0.25, ("weave", "stain"): 0.060,
    ("wood", "crack"): 0.25, ("wood", "scratch"): 0.25, ("wood", "stain"): 0.070,
    ("carpet", "hole"): 0.065, ("carpet", "scratch"): 0.25, ("carpet", "stain"): 0.070,
    ("screw", "missing"): 0.07, ("screw", "scratch"): 0.14, ("screw", "worn"): 0.11,
    ("washer", "hole"): 0.020, ("washer", "missing"): 0.025, ("washer", "stain"): 0.060,
    ("pill", "crack"): 0.16, ("pill", "missing"): 0.05, ("pill", "stain"): 0.040,
}


# --- drawing helpers ------------------------------------------------------------------------------

def _grid(S: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float64) + 0.5
    return yy, xx


def _noise(rng, S: int, sigma, wrap: bool = True) -> np.ndarray:
    """Smooth Gaussian noise ``[S, S]`` with unit standard deviation."""
    n = gaussian_filter(rng.standard_normal((S, S)), sigma, mode="wrap" if wrap else "reflect")
    return n / (n.std() + 1e-12)


def _frame(yy, xx, cx, cy, ang):
    """Object coordinates: ``u`` along the object's axis (angle ``ang`` radians), ``v`` across."""
    dx, dy = xx - cx, yy - cy
    c, s = np.cos(ang), np.sin(ang)
    return c * dx + s * dy, -s * dx + c * dy


def _coverage(d: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage from a signed distance in pixels (negative inside)."""
    return np.clip(0.5 - d, 0.0, 1.0)


def _segment_distance(yy, xx, pts: np.ndarray) -> np.ndarray:
    """Distance of every pixel to the polyline ``pts`` ``[K, 2]`` of (x, y) points."""
    d = np.full(yy.shape, np.inf)
    for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:]):
        vx, vy = x1 - x0, y1 - y0
        L2 = vx * vx + vy * vy + 1e-12
        t = np.clip(((xx - x0) * vx + (yy - y0) * vy) / L2, 0, 1)
        d = np.minimum(d, np.hypot(xx - (x0 + t * vx), yy - (y0 + t * vy)))
    return d


def _curve(rng, x0, y0, length, heading, n=10, wiggle=0.25) -> np.ndarray:
    """A random-walk polyline ``[n+1, 2]`` starting at (x0, y0)."""
    step = length / n
    pts = [(x0, y0)]
    h = heading
    for _ in range(n):
        h += rng.normal(0, wiggle)
        x0, y0 = x0 + step * np.cos(h), y0 + step * np.sin(h)
        pts.append((x0, y0))
    return np.array(pts)


def _blob(rng, yy, xx, cx, cy, r, S) -> np.ndarray:
    """Irregular blob coverage ``[S, S]`` in [0, 1] around (cx, cy) with radius about ``r``."""
    a, b = r * rng.uniform(0.8, 1.25), r * rng.uniform(0.55, 0.95)
    u, v = _frame(yy, xx, cx, cy, rng.uniform(0, np.pi))
    warp = _noise(rng, S, max(1.0, r / 2.5))
    rho = np.sqrt((u / a) ** 2 + (v / b) ** 2) + 0.22 * warp
    return _coverage((rho - 1.0) * min(a, b))


def _stroke(yy, xx, pts, width) -> np.ndarray:
    return _coverage(_segment_distance(yy, xx, pts) - width / 2)


# --- scenes ---------------------------------------------------------------------------------------

@dataclass
class Scene:
    """A defect-free rendering (float ``[S, S, 3]`` in about [0, 1]) and what defects need."""

    img: np.ndarray
    where: np.ndarray                  # ``[S, S]`` bool: where defects may be centred
    obj: np.ndarray | None = None      # object coverage ``[S, S]`` (objects only)
    bg: np.ndarray | None = None       # background ``[S, S, 3]`` (objects only)
    extra: dict = field(default_factory=dict)


def _jitter_colour(rng, base, amount=0.03) -> np.ndarray:
    return np.clip(np.asarray(base) + rng.uniform(-amount, amount, 3), 0, 1)


def _texture_where(S: int) -> np.ndarray:
    yy, xx = _grid(S)
    m = 0.2 * S
    return (yy > m) & (yy < S - m) & (xx > m) & (xx < S - m)


def _weave(rng, S):
    yy, xx = _grid(S)
    p = S / 10 * rng.uniform(0.95, 1.05)
    u, v = _frame(yy, xx, S / 2, S / 2, np.deg2rad(rng.uniform(-3, 3)))
    a, b = u / p + rng.uniform(0, 2), v / p + rng.uniform(0, 2)
    cell = (np.floor(a) + np.floor(b)) % 2
    fh, fv = np.abs(np.sin(np.pi * b)) ** 0.6, np.abs(np.sin(np.pi * a)) ** 0.6
    hump_h, hump_v = 0.85 + 0.15 * np.sin(np.pi * (a % 1)), 0.85 + 0.15 * np.sin(np.pi * (b % 1))
    val = np.where(cell == 0, (0.3 + 0.6 * fh) * hump_h, (0.3 + 0.6 * fv) * hump_v)
    val = val + 0.04 * _noise(rng, S, 1.5)
    colour = _jitter_colour(rng, (0.80, 0.72, 0.58))
    img = val[..., None] * colour
    return Scene(img, _texture_where(S), extra={"gap": colour * 0.2, "angle": 0.0})


def _wood(rng, S):
    yy, xx = _grid(S)
    ang = np.deg2rad(rng.uniform(-4, 4))
    u, v = _frame(yy, xx, S / 2, S / 2, ang)
    turb = _noise(rng, S, S / 6) * S * 0.05 + _noise(rng, S, S / 16) * S * 0.012
    p = S / 7 * rng.uniform(0.9, 1.1)
    t = (v + turb) / p + rng.uniform(0, 1)
    ring = (0.5 + 0.5 * np.sin(2 * np.pi * t)) ** 2
    g = gaussian_filter(rng.standard_normal((S, S)), (0.6, 6), mode="wrap")
    grain = g / (g.std() + 1e-12) * 0.06
    val = np.clip(0.6 * ring + grain + 0.2, 0, 1)
    light, dark = _jitter_colour(rng, (0.80, 0.62, 0.42)), _jitter_colour(rng, (0.52, 0.36, 0.22))
    img = light * (1 - val[..., None]) + dark * val[..., None]
    return Scene(img, _texture_where(S), extra={"angle": ang, "dark": dark * 0.6, "light": light})


def _carpet(rng, S):
    yy, xx = _grid(S)
    p = S / 24 * rng.uniform(0.95, 1.05)
    ph = rng.uniform(0, 2 * np.pi, 2)
    knots = np.sin(2 * np.pi * xx / p + ph[0]) * np.sin(2 * np.pi * yy / p + ph[1])
    val = 0.55 + 0.05 * _noise(rng, S, 1.0) + 0.05 * _noise(rng, S, 3.0) + 0.05 * knots
    colour = _jitter_colour(rng, (0.45, 0.40, 0.62))
    chroma = np.stack([0.02 * _noise(rng, S, 2.0) for _ in range(3)], -1)
    img = val[..., None] * colour / 0.55 * 0.7 + chroma
    return Scene(img, _texture_where(S), extra={"hole": colour * 0.25})


def _background(rng, S):
    yy, xx = _grid(S)
    base = _jitter_colour(rng, (0.17, 0.18, 0.20), 0.02)
    vign = 1 - 0.25 * (((yy - S / 2) ** 2 + (xx - S / 2) ** 2) / (S * S / 2))
    return (base[None, None] * vign[..., None] + 0.012 * _noise(rng, S, S / 10)[..., None])


def _pose(rng, S, max_deg):
    cx, cy = S / 2 + rng.uniform(-0.04, 0.04, 2) * S
    return cx, cy, np.deg2rad(rng.uniform(-max_deg, max_deg)), S * rng.uniform(0.95, 1.05)


def _screw(rng, S):
    yy, xx = _grid(S)
    cx, cy, ang, s = _pose(rng, S, 12)
    u, v = _frame(yy, xx, cx, cy, ang)
    hw, u0, u1, tip = 0.065 * s, -0.22 * s, 0.34 * s, 0.22 * s
    width = np.where(u < tip, hw, hw * np.clip((u1 - u) / (u1 - tip), 0, 1))
    d_shaft = np.maximum.reduce([np.abs(v) - width, u0 - u, u - u1])
    d_head = np.maximum(np.abs(v) - 0.15 * s, np.abs(u + 0.28 * s) - 0.06 * s)
    cov = _coverage(np.minimum(d_shaft, d_head))
    pitch = 0.05 * s
    thr = 0.5 + 0.5 * np.sin(2 * np.pi * (u + 0.35 * v) / pitch)
    cyl = np.sqrt(np.clip(1 - (v / np.maximum(width, 1e-6)) ** 2, 0, 1))
    shaft = (0.45 + 0.45 * cyl)
    head = 0.5 + 0.3 * np.sqrt(np.clip(1 - (v / (0.15 * s)) ** 2, 0, 1))
    is_head = d_head < d_shaft
    colour = _jitter_colour(rng, (0.72, 0.72, 0.75))
    shade = np.where(is_head, head, shaft * (0.7 + 0.3 * thr))
    shade_worn = np.where(is_head, head, shaft * 0.85)
    bg = _background(rng, S)
    obj = colour * shade[..., None]
    img = bg * (1 - cov[..., None]) + obj * cov[..., None]
    worn = bg * (1 - cov[..., None]) + (colour * shade_worn[..., None]) * cov[..., None]
    margin = 2.0 if hw >= 3 else hw / 2      # 2 px from 50 px up; small images keep the shaft's core
    inner = _coverage(np.minimum(d_shaft, d_head) + margin) > 0.99
    return Scene(img, inner, cov, bg, {"u": u, "v": v, "s": s, "worn": worn, "ang": ang, "cx": cx, "cy": cy})


def _washer(rng, S):
    yy, xx = _grid(S)
    cx, cy, ang, s = _pose(rng, S, 180)
    r = np.hypot(xx - cx, yy - cy)
    phi = np.arctan2(yy - cy, xx - cx)
    r_in, r_out = 0.16 * s, 0.33 * s
    cov = _coverage(np.maximum(r_in - r, r - r_out))
    t = (r - r_in) / (r_out - r_in)
    bevel = 0.55 + 0.3 * np.sin(np.pi * np.clip(t, 0, 1)) + 0.12 * np.cos(phi - ang) * (1 - 2 * t)
    brushed = 0.03 * np.sin(24 * (phi - ang)) * np.sin(np.pi * np.clip(t, 0, 1))
    colour = _jitter_colour(rng, (0.78, 0.66, 0.40))
    bg = _background(rng, S)
    img = bg * (1 - cov[..., None]) + colour * (bevel + brushed)[..., None] * cov[..., None]
    margin = 2.0 if r_out - r_in >= 8 else (r_out - r_in) / 4   # 2 px from 50 px up; small images keep a band
    inner = (r > r_in + margin) & (r < r_out - margin)
    return Scene(img, inner, cov, bg, {"r": r, "phi": phi, "r_in": r_in, "r_out": r_out, "cx": cx, "cy": cy})


def _pill(rng, S):
    yy, xx = _grid(S)
    cx, cy, ang, s = _pose(rng, S, 8)
    u, v = _frame(yy, xx, cx, cy, ang)
    half, rad = 0.26 * s, 0.13 * s
    du = np.maximum(np.abs(u) - half, 0)
    d = np.hypot(du, v) - rad
    cov = _coverage(d)
    body = np.sqrt(np.clip(1 - (np.hypot(du, v) / rad) ** 2, 0, 1))
    shade = 0.7 + 0.25 * body + 0.05 * _noise(rng, S, 2.0)
    colour = _jitter_colour(rng, (0.92, 0.90, 0.86), 0.02)
    obj = colour * shade[..., None]
    # a few red speckles (normal for this pill type, like MVTec's pill)
    n_spk = rng.integers(3, 9)
    for _ in range(n_spk):
        pu, pv = rng.uniform(-half, half), rng.uniform(-0.6, 0.6) * rad
        sp = _coverage(np.hypot(u - pu, v - pv) - rng.uniform(0.6, 1.2) * S / 128)
        obj = obj * (1 - sp[..., None]) + np.array([0.75, 0.25, 0.2]) * sp[..., None]
    bg = _background(rng, S)
    img = bg * (1 - cov[..., None]) + obj * cov[..., None]
    inner = d < -3
    return Scene(img, inner, cov, bg, {"u": u, "v": v, "d": d, "s": s, "ang": ang})


RENDER = {"weave": _weave, "wood": _wood, "carpet": _carpet, "screw": _screw, "washer": _washer, "pill": _pill}


# --- defects --------------------------------------------------------------------------------------

def _pick(rng, where: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(where)
    if len(ys) == 0:
        raise DefectbookError(f"synthetic generator: no pixel to place a defect at size {where.shape[0]}; "
                              "use a larger image size")
    i = rng.integers(len(ys))
    return xs[i] + 0.5, ys[i] + 0.5


def _defect(cat: str, kind: str, sc: Scene, rng, S: int, difficulty: float) -> np.ndarray:
    """The scene's image with one defect of ``kind`` (float ``[S, S, 3]``)."""
    yy, xx = _grid(S)
    amp = AMP[(cat, kind)] / difficulty
    size = SIZE[(cat, kind)] * S / np.sqrt(difficulty)
    x = sc.img
    width = max(1.0, 0.010 * S)
    cx, cy = _pick(rng, sc.where)
    if kind in ("hole",):
        a = _blob(rng, yy, xx, cx, cy, size * rng.uniform(0.8, 1.2), S)
        if sc.obj is not None:
            a = a * (sc.obj > 0.99)
        target = sc.extra.get("gap", sc.extra.get("hole", np.array([0.1, 0.1, 0.1])))
        return x + (a * min(amp, 1.0))[..., None] * (target - x)
    if kind == "stain":
        a = _blob(rng, yy, xx, cx, cy, size * rng.uniform(0.8, 1.2), S)
        a = gaussian_filter(a, 0.7) * (a > 0)
        if sc.obj is not None:
            a = a * (sc.obj > 0.99)
        hue = rng.normal(0, 1, 3)
        hue = hue - hue.mean()
        hue = hue / (np.abs(hue).max() + 1e-9)
        direction = -0.5 + hue  # darker and tinted; additive, so the texture's contrast is kept
        return x + (a * amp * 0.5)[..., None] * direction
    if kind in ("scratch", "crack"):
        length = size * rng.uniform(0.7, 1.3)
        if kind == "crack":
            heading = sc.extra.get("angle", sc.extra.get("ang", 0.0)) + rng.normal(0, 0.3) + rng.choice([0, np.pi])
            pts = _curve(rng, cx, cy, length, heading, n=12, wiggle=0.35)
            a = _stroke(yy, xx, pts, width * rng.uniform(0.9, 1.3))
            if rng.random() < 0.5:  # a branch
                j = rng.integers(3, 9)
                br = _curve(rng, pts[j, 0], pts[j, 1], length * 0.4, heading + rng.choice([-1, 1]) * 0.8, n=5,
                            wiggle=0.4)
                a = np.maximum(a, _stroke(yy, xx, br, width * 0.9))
            sign = -1.0
        else:
            pts = _curve(rng, cx, cy, length, rng.uniform(0, 2 * np.pi), n=6, wiggle=0.08)
            pts = pts - (pts[-1] - pts[0]) / 2  # centred on the picked point
            a = _stroke(yy, xx, pts, width * rng.uniform(0.8, 1.2))
            sign = 1.0 if rng.random() < 0.7 else -1.0
        if sc.obj is not None:
            a = a * (sc.obj > 0.99)
        if sign > 0:
            return x + (a * amp)[..., None] * (1 - x)
        return x * (1 - (a * amp)[..., None])
    if kind == "missing":
        if cat == "screw":
            u, _v, s = sc.extra["u"], sc.extra["v"], sc.extra["s"]
            cut = 0.34 * s - size * rng.uniform(0.6, 1.3)
            jag = 0.01 * s * _noise(rng, S, 1.5)
            R = sc.obj * (u > cut + jag)
        else:
            if cat == "washer":
                rim = sc.extra["r_out"] if rng.random() < 0.7 else sc.extra["r_in"]
                phi = rng.uniform(-np.pi, np.pi)
                px, py = sc.extra["cx"] + rim * np.cos(phi), sc.extra["cy"] + rim * np.sin(phi)
            else:  # pill: a chip off the edge
                edge = np.abs(sc.extra["d"]) < 1.0
                px, py = _pick(rng, edge)
            R = _blob(rng, yy, xx, px, py, size * rng.uniform(0.8, 1.2), S) * sc.obj
        R = R * min(amp, 1.0)
        return x * (1 - R[..., None]) + sc.bg * R[..., None]
    if kind == "worn":
        u, s = sc.extra["u"], sc.extra["s"]
        start = rng.uniform(-0.18 * s, 0.22 * s - size)
        L = size * rng.uniform(0.8, 1.2)
        a = _coverage(np.maximum(start - u, u - (start + L)) * 1.0) * (sc.obj > 0.5)
        return x + (a * min(amp, 1.0))[..., None] * (sc.extra["worn"] - x)
    raise AssertionError(kind)


def _photometric(rng, S):
    yy, xx = _grid(S)
    gain, bias = rng.uniform(0.9, 1.1), rng.uniform(-0.03, 0.03)
    th = rng.uniform(0, 2 * np.pi)
    grad = 1 + 0.06 * ((xx - S / 2) * np.cos(th) + (yy - S / 2) * np.sin(th)) / (S / 2)
    noise = rng.normal(0, 0.01, (S, S, 3))

    def apply(img):
        out = img * (gain * grad)[..., None] + bias + noise
        return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)

    return apply


def render_pair(category: str, kind: str | None, rng, size: int, difficulty: float = 1.0):
    """``(clean, image, mask)``: the defect-free rendering ``uint8 [S, S, 3]``, the same scene with a
    defect of ``kind`` (``clean`` itself when ``kind`` is None) and the mask ``bool [S, S]`` of the
    pixels that differ (None for ``kind=None``)."""
    if category not in CATEGORIES:
        raise DefectbookError(f"unknown synthetic category {category!r}; known: {', '.join(CATEGORIES)}")
    if kind is not None and kind not in CATEGORIES[category]:
        raise DefectbookError(f"synthetic {category} has no defect {kind!r}; known: {', '.join(CATEGORIES[category])}")
    for _ in range(20):
        sc = RENDER[category](rng, size)
        bad = None if kind is None else _defect(category, kind, sc, rng, size, difficulty)
        photo = _photometric(rng, size)
        clean = photo(sc.img)
        if kind is None:
            return clean, clean, None
        img = photo(bad)
        mask = (img != clean).any(-1)
        if mask.sum() >= 3:
            return clean, img, mask
    raise DefectbookError(
        f"synthetic {category}/{kind}: could not place a visible defect (difficulty {difficulty} too high?)"
    )


def contrast_ratio(clean: np.ndarray, image: np.ndarray, mask: np.ndarray, normal_sd: np.ndarray) -> float:
    """A defect's contrast ratio, the calibration criterion (see :data:`CALIBRATION`): the mean absolute
    change of its pixels (``clean``, ``image`` uint8 ``[S, S, 3]``, channel mean, inside ``mask`` bool
    ``[S, S]``) over the mean there of the defect-free images' per-pixel standard deviation
    ``normal_sd [S, S, 3]`` (8-bit units; at least one grey level, the quantum)."""
    change = np.abs(image.astype(np.float64) - clean).mean(-1)[mask].mean()
    return float(change / max(np.asarray(normal_sd, np.float64).mean(-1)[mask].mean(), 1.0))


def render_sample(category: str, kind: str | None, rng, size: int, difficulty: float = 1.0):
    """One image ``uint8 [S, S, 3]`` and, for a defect ``kind``, its exact mask ``bool [S, S]``."""
    _, img, mask = render_pair(category, kind, rng, size, difficulty)
    return img, mask


# --- dataset writing ------------------------------------------------------------------------------

def _params(categories=None, size=128, n_train=60, n_test_good=20, n_test_defect=8, seed=0, difficulty=1.0) -> dict:
    cats = (
        list(CATEGORIES) if categories is None else ([categories] if isinstance(categories, str) else list(categories))
    )
    unknown = [c for c in cats if c not in CATEGORIES]
    if unknown:
        raise DefectbookError(f"unknown synthetic category {unknown[0]!r}; known: {', '.join(CATEGORIES)}")
    if not cats:
        raise DefectbookError("no synthetic categories to generate")
    try:
        p = {"categories": sorted(set(cats), key=list(CATEGORIES).index), "size": int(size), "n_train": int(n_train),
             "n_test_good": int(n_test_good), "n_test_defect": int(n_test_defect), "seed": int(seed),
             "difficulty": float(difficulty)}
    except (TypeError, ValueError) as e:
        raise DefectbookError(f"bad synthetic dataset parameter: {e}") from None
    if p["size"] < 32:
        raise DefectbookError(f"synthetic image size must be at least 32 pixels, got {p['size']}; use --size 32 "
                              f"to {MAX_SIZE} (default {DEFAULTS['size']})")
    if p["size"] > MAX_SIZE:
        raise DefectbookError(f"synthetic image size {p['size']} is too large (at most {MAX_SIZE} pixels); use --size "
                              f"32 to {MAX_SIZE} (default {DEFAULTS['size']})")
    if p["n_train"] < 1 or p["n_test_good"] < 0 or p["n_test_defect"] < 0 or p["n_test_good"] + p["n_test_defect"] < 1:
        raise DefectbookError("synthetic counts: need n_train >= 1 and at least one test image")
    if not p["difficulty"] > 0:
        raise DefectbookError(f"difficulty must be positive, got {p['difficulty']}")
    return p


def _save(a: np.ndarray, path: Path) -> tuple[int, str]:
    """Write ``a`` as a PNG; returns its ``(size in bytes, SHA-256)`` for the manifest."""
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", optimize=False)
    data = buf.getvalue()
    path.write_bytes(data)
    return len(data), hashlib.sha256(data).hexdigest()


def _check_out(out: Path) -> None:
    """Refuse an output path that is a file, lies under a file, or is a non-empty folder."""
    for q in (out, *out.parents):
        if q.exists() and not q.is_dir():
            what = "is a file" if q == out else f"lies under {q}, which is a file"
            raise DefectbookError(f"output folder {out} {what}; pick a new folder path")
        if q.exists():
            break
    if out.is_dir() and any(out.iterdir()):
        raise DefectbookError(f"output folder {out} is not empty; pick a new folder")


def generate(out_dir, categories=None, size: int = 128, n_train: int = 60, n_test_good: int = 20,
             n_test_defect: int = 8, seed: int = 0, difficulty: float = 1.0, progress: bool = False,
             atomic: bool = True) -> Path:
    """Write the dataset in MVTec layout under ``out_dir`` (created; must be new or empty) and return it.

    ``n_test_defect`` images per defect kind and category. Files: ``CAT/train/good/NNN.png``,
    ``CAT/test/good/NNN.png``, ``CAT/test/KIND/NNN.png``, ``CAT/ground_truth/KIND/NNN_mask.png``,
    ``README.txt`` with the parameters and :data:`MANIFEST`. The parameters and the output path are
    checked before anything is written. ``atomic``: write into a temporary sibling folder renamed into
    place at the end, so a failed or interrupted run leaves nothing behind (:func:`ensure` passes False:
    it already writes into a temporary folder of its own).
    """
    p = _params(categories, size, n_train, n_test_good, n_test_defect, seed, difficulty)
    out = Path(out_dir)
    _check_out(out)
    if not atomic:
        out.mkdir(parents=True, exist_ok=True)
        _write_dataset(out, p, progress)
        return out
    made = [q for q in out.absolute().parents if not q.exists()]     # folders this call creates
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    done = False
    try:
        tmp.mkdir()
        _write_dataset(tmp, p, progress)
        _check_out(out)                                  # nothing appeared meanwhile
        os.replace(tmp, out)                             # an empty folder at ``out`` is replaced
        done = True
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        for q in made if not done else []:               # deepest first: only the empty ones made here
            try:
                q.rmdir()
            except OSError:
                break
    return out


def _write_dataset(out: Path, p: dict, progress: bool = False) -> None:
    S, d = p["size"], p["difficulty"]
    files: dict[str, dict] = {}

    def save(a: np.ndarray, path: Path) -> None:
        size, digest = _save(a, path)
        files[path.relative_to(out).as_posix()] = {"size": size, "sha256": digest}

    bar = None
    if progress:
        from tqdm import tqdm

        total = len(p["categories"]) * (p["n_train"] + p["n_test_good"]) + \
            sum(len(CATEGORIES[c]) for c in p["categories"]) * p["n_test_defect"]
        bar = tqdm(total=total, desc="synthetic", unit="img")
    for cat in p["categories"]:
        parts = [("train", "good", p["n_train"]), ("test", "good", p["n_test_good"])] + \
                [("test", k, p["n_test_defect"]) for k in CATEGORIES[cat]]
        for part, kind, n in parts:
            folder = out / cat / part / kind
            folder.mkdir(parents=True, exist_ok=True)
            if kind != "good":
                (out / cat / "ground_truth" / kind).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                rng = seeded_rng(p["seed"], cat, part, kind, i)
                img, mask = render_sample(cat, None if kind == "good" else kind, rng, S, d)
                save(img, folder / f"{i:03d}.png")
                if mask is not None:
                    save(mask.astype(np.uint8) * 255, out / cat / "ground_truth" / kind / f"{i:03d}_mask.png")
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    _write_readme(out, p)
    data = (out / "README.txt").read_bytes()
    files["README.txt"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {"format": MANIFEST_FORMAT, "generator_version": GENERATOR_VERSION, "params": p,
                "files": dict(sorted(files.items()))}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=0, sort_keys=True) + "\n")


def _write_readme(out: Path, p: dict) -> None:
    lines = [
        "defectbook synthetic defect dataset (MVTec AD layout), generated procedurally.",
        f"generator version: {GENERATOR_VERSION}",
        "parameters: " + json.dumps(p, sort_keys=True),
        "",
        "layout: CAT/train/good/NNN.png, CAT/test/good/NNN.png, CAT/test/KIND/NNN.png,",
        "        CAT/ground_truth/KIND/NNN_mask.png (exact masks: the pixels the defect changed)",
        "",
        "categories and defect kinds:",
    ]
    for c in p["categories"]:
        lines.append(f"  {c} ({'texture' if c in TEXTURES else 'object'}): {', '.join(CATEGORIES[c])}")
    lines += ["", f"per category: {p['n_train']} training images, {p['n_test_good']} good test images, "
              f"{p['n_test_defect']} test images per defect kind; {p['size']}x{p['size']} RGB.",
              "Regenerate: defectbook data synth OUT --size {size} --n-train {n_train} --n-test-good {n_test_good} "
              "--n-test-defect {n_test_defect} --seed {seed} --difficulty {difficulty}".format(**p)]
    (out / "README.txt").write_text("\n".join(lines) + "\n")


def cache_key(**params) -> str:
    """Short hash of the normalised parameters and the generator version."""
    p = _params(**params)
    blob = json.dumps({"v": GENERATOR_VERSION, **p}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def ensure(cache_dir, **params) -> Path:
    """The dataset for ``params`` under ``cache_dir/<hash>/``, generated when absent or damaged.

    Generation writes into a temporary sibling folder which is renamed into place when complete,
    so an interrupted run never leaves a partial dataset. ``params`` are :func:`generate`'s.
    A cached folder is used only when its files match its manifest (:func:`verify_cache`, rehashed
    once per process and again whenever a file's size or time stamp changes) and the manifest is for
    these parameters and this generator version. A folder that fails is generated again with a warning
    in the package's own cache (:func:`defectbook.paths.cache_dir` ``/synthetic``); under a cache folder
    given by the caller it is a :class:`~defectbook.DefectbookError` naming the problem (nothing of
    the caller's is deleted).
    """
    unknown = set(params) - set(DEFAULTS) - {"categories", "progress"}
    if unknown:
        raise DefectbookError(f"unknown synthetic dataset parameter(s): {', '.join(sorted(unknown))}; "
                              f"known: categories, {', '.join(DEFAULTS)}")
    progress = params.pop("progress", False)
    cache = Path(cache_dir)
    key = cache_key(**params)
    final = cache / key
    if cache.exists() and not cache.is_dir():
        raise DefectbookError(f"synthetic data cache {cache} is a file, not a folder; pick a folder path")
    if final.exists():
        problems = _entry_problems(final, _params(**params))
        if not problems:
            return final
        if not _own_cache(cache):
            raise DefectbookError(f"synthetic dataset {final} fails its check: {_describe(problems, final)}; "
                                  f"delete that folder to have it generated again")
        warnings.warn(f"synthetic dataset {final} fails its check: {_describe(problems, final)}; "
                      "generating it again", stacklevel=2)
        _discard(final, cache, key)
    cache.mkdir(parents=True, exist_ok=True)
    for old in cache.glob(f".tmp-{key}-*"):  # leftovers of killed runs (older than an hour)
        try:
            if time.time() - old.stat().st_mtime > 3600:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    tmp = cache / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        generate(tmp, progress=progress, atomic=False, **params)
        try:
            os.replace(tmp, final)
        except OSError:
            if _entry_problems(final, _params(**params)):     # another process's copy, if any, must pass
                raise
        else:
            _remember_intact(final)                           # just written: no rehash in this process
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _own_cache(cache: Path) -> bool:
    """Whether ``cache`` is the package's synthetic-data cache (free to regenerate in)."""
    from ..paths import cache_dir

    try:
        return cache.resolve() == (cache_dir() / "synthetic").resolve()
    except OSError:
        return False


def _discard(final: Path, cache: Path, key: str) -> None:
    """Move a failed dataset folder out of the way (atomically), then delete it."""
    stale = cache / f".tmp-{key}-stale-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        os.replace(final, stale)
    except FileNotFoundError:                                 # another process moved it meanwhile
        return
    shutil.rmtree(stale, ignore_errors=True)
    with _LOCK:
        _VERIFIED.pop(str(final.absolute()), None)


def _describe(problems: list[tuple[Path, str]], root: Path) -> str:
    """The first problems in words, ``rel/path: reason; ...`` and how many more."""
    def rel(q: Path) -> str:
        try:
            return q.relative_to(root).as_posix() or "."
        except ValueError:
            return str(q)

    text = "; ".join(f"{rel(q)}: {why}" for q, why in problems[:3])
    return text + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")


def _entry_problems(folder: Path, p: dict) -> list[tuple[Path, str]]:
    """:func:`verify_cache` of one cached dataset, plus its manifest's parameters and version against ``p``."""
    problems = _verify_dataset(folder)
    if problems:
        return problems
    try:
        m = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        return [(folder / MANIFEST, f"unreadable manifest ({e})")]
    if m.get("generator_version") != GENERATOR_VERSION or m.get("params") != p:
        return [(folder / MANIFEST, f"the manifest is for generator version {m.get('generator_version')} with "
                                    f"parameters {m.get('params')}, not version {GENERATOR_VERSION} with {p}")]
    return []


# --- manifest checks ------------------------------------------------------------------------------

#: per process: folder -> (signature of its files' sizes and time stamps, problems found)
_VERIFIED: dict[str, tuple[tuple, list]] = {}
_LOCK = threading.Lock()


def _walk(folder: Path) -> dict[str, os.stat_result]:
    """``relative posix path -> stat`` of every file under ``folder``."""
    out: dict[str, os.stat_result] = {}
    stack = [(folder, "")]
    while stack:
        d, prefix = stack.pop()
        with os.scandir(d) as it:
            for e in it:
                rel = prefix + e.name
                if e.is_dir(follow_symlinks=False):
                    stack.append((Path(e.path), rel + "/"))
                else:
                    out[rel] = e.stat(follow_symlinks=False)
    return out


def _signature(files: dict[str, os.stat_result]) -> tuple:
    return tuple(sorted((rel, st.st_size, st.st_mtime_ns) for rel, st in files.items()))


def _remember_intact(folder: Path) -> None:
    try:
        sig = _signature(_walk(folder))
    except OSError:
        return
    with _LOCK:
        _VERIFIED[str(folder.absolute())] = (sig, [])


def _verify_dataset(folder: Path) -> list[tuple[Path, str]]:
    """One generated folder against its manifest (memoised per process on the files' sizes and times)."""
    try:
        files = _walk(folder)
    except OSError as e:
        return [(folder, f"unreadable ({e})")]
    sig = _signature(files)
    name = str(folder.absolute())
    with _LOCK:
        hit = _VERIFIED.get(name)
    if hit is not None and hit[0] == sig:
        return list(hit[1])
    problems = _check_manifest(folder, files)
    with _LOCK:
        _VERIFIED[name] = (sig, problems)
    return list(problems)


def _check_manifest(folder: Path, files: dict[str, os.stat_result]) -> list[tuple[Path, str]]:
    mpath = folder / MANIFEST
    if MANIFEST not in files:
        return [(mpath, "no manifest: the files cannot be checked (written before manifests, or not by the "
                        "generator)")]
    try:
        m = json.loads(mpath.read_text())
    except (OSError, ValueError) as e:
        return [(mpath, f"unreadable manifest ({e})")]
    listed = m.get("files") if isinstance(m, dict) and m.get("format") == MANIFEST_FORMAT else None
    if not isinstance(listed, dict) or not all(isinstance(v, dict) for v in listed.values()):
        return [(mpath, f"not a synthetic dataset manifest (format {MANIFEST_FORMAT} expected)")]
    problems = []
    for rel, entry in listed.items():
        q = folder / rel
        if rel.startswith("/") or ".." in rel.split("/"):
            problems.append((mpath, f"names a path outside the folder: {rel!r}"))
        elif rel not in files:
            problems.append((q, "missing (listed in the manifest)"))
        elif files[rel].st_size != entry.get("size"):
            problems.append((q, f"{files[rel].st_size} bytes, the manifest says {entry.get('size')} (changed file)"))
        else:
            try:
                digest = file_sha256(q)
            except OSError as e:
                problems.append((q, f"unreadable ({e})"))
                continue
            if digest != entry.get("sha256"):
                problems.append((q, "content differs from the manifest (changed file)"))
    for rel in sorted(set(files) - set(listed) - {MANIFEST}):
        problems.append((folder / rel, "not in the manifest (an added file)"))
    return problems


def _is_dataset(folder: Path) -> bool:
    if (folder / MANIFEST).exists() or (folder / "README.txt").exists():
        return True
    try:
        return any(d.is_dir() and (d / "train").is_dir() for d in folder.iterdir())
    except OSError:
        return False


def verify_cache(folder) -> list[tuple[Path, str]]:
    """``(path, reason)`` of every problem of the synthetic data in ``folder`` (empty: all intact).

    ``folder`` is one generated dataset (it holds :data:`MANIFEST` or ``README.txt``) or a cache folder
    of them (``<cache>/synthetic``, each dataset in a sub-folder; temporary ``.``-folders are skipped).
    Problems: no or an unreadable manifest, a listed file missing, a file of another size or content,
    a file the manifest does not list. Nothing is changed."""
    folder = Path(folder)
    if not folder.exists():
        return []
    if not folder.is_dir():
        return [(folder, "not a folder")]
    if _is_dataset(folder):
        return _verify_dataset(folder)
    out = []
    for sub in sorted(folder.iterdir()):
        if sub.is_dir() and not sub.name.startswith("."):
            out += _verify_dataset(sub)
    return out
