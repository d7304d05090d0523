"""The synthetic generator: layout, exact masks, determinism, the cache, difficulty."""
import hashlib

import numpy as np
import pytest
from PIL import Image

from defectbook import DefectbookError
from defectbook.data import load_masks, load_split, synthetic
from defectbook.data.base import seeded_rng
from defectbook.data.mvtec import list_categories, load_mvtec
from defectbook.data.synthetic import CATEGORIES, OBJECTS, TEXTURES, ensure, generate, render_pair
from defectbook.data.transforms import make_mask_transform

TINY = dict(size=48, n_train=2, n_test_good=1, n_test_defect=1, seed=0)


def digests(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_categories_and_kinds():
    assert len(TEXTURES) >= 3 and len(OBJECTS) >= 3 and set(TEXTURES) | set(OBJECTS) == set(CATEGORIES)
    kinds = {k for ks in CATEGORIES.values() for k in ks}
    assert len(kinds) >= 4 and {"scratch", "hole", "stain", "crack", "missing"} <= kinds


def test_generate_layout_and_determinism(tmp_path):
    a = generate(tmp_path / "a", **TINY)
    assert list_categories(a) == sorted(CATEGORIES)
    readme = (a / "README.txt").read_text()
    assert '"size": 48' in readme and "weave" in readme
    for cat, kinds in CATEGORIES.items():
        s = load_mvtec(a, cat)
        assert len(s.train) == 2 and len(s.test) == 1 + len(kinds) and s.has_masks
        assert [x.defect for x in s.test] == ["good"] + sorted(kinds)
        with Image.open(s.test[1].path) as im:
            assert im.size == (48, 48) and im.mode == "RGB"
        m = load_masks(s.test, make_mask_transform(48))
        assert m[0].sum() == 0 and all(0 < m[i].sum() < 0.3 * 48 * 48 for i in range(1, len(s.test)))
    b = generate(tmp_path / "b", **TINY)
    assert digests(a) == digests(b)  # same bytes twice
    c = generate(tmp_path / "c", **{**TINY, "n_train": 3, "categories": ["screw"]})
    da, dc = digests(a), digests(c)
    # per-image streams
    assert all(da[k] == dc[k] for k in dc if k.startswith("screw/") and k != "screw/train/good/002.png")
    d = generate(tmp_path / "d", **{**TINY, "seed": 1, "categories": ["screw"]})
    assert digests(d)["screw/train/good/000.png"] != da["screw/train/good/000.png"]
    with pytest.raises(DefectbookError, match="not empty"):
        generate(tmp_path / "a", **TINY)


@pytest.mark.parametrize("cat", list(CATEGORIES))
def test_masks_are_exact_and_not_boxes(cat):
    for kind in CATEGORIES[cat]:
        areas = []
        for i in range(3):
            clean, img, mask = render_pair(cat, kind, seeded_rng(5, cat, kind, i), 64)
            diff = (clean != img).any(-1)
            assert np.array_equal(mask, diff) and mask.any()
            assert np.array_equal(clean[~mask], img[~mask])
            ys, xs = np.nonzero(mask)
            h, w = np.ptp(ys) + 1, np.ptp(xs) + 1
            if kind != "worn":
                assert mask.sum() < h * w  # not a bounding box
            areas.append(mask.sum() / max(h, w))
        if kind in ("scratch", "crack"):
            assert np.mean(areas) < 4  # thin curves: mean thickness of a few pixels


def test_normal_variation():
    a = [render_pair("screw", None, seeded_rng(0, i), 64)[1].astype(float) for i in range(3)]
    assert np.abs(a[0] - a[1]).mean() > 2 and np.abs(a[1] - a[2]).mean() > 2
    t = [render_pair("weave", None, seeded_rng(0, i), 64)[1].astype(float) for i in range(2)]
    assert np.abs(t[0] - t[1]).mean() > 2


def test_difficulty_makes_defects_subtler():
    def strength(d):
        tot = []
        for cat in ("weave", "wood", "pill"):
            for i in range(4):
                clean, img, mask = render_pair(cat, "stain" if cat != "pill" else "crack", seeded_rng(9, cat, i), 64, d)
                tot.append(np.abs(clean.astype(float) - img.astype(float)).sum())
        return np.mean(tot)
    assert strength(3.0) < 0.6 * strength(1.0) < 0.6 * strength(0.5)


def test_ensure_caches_atomically(tmp_path, monkeypatch):
    p1 = ensure(tmp_path, categories=["weave"], **TINY)
    mtime = (p1 / "README.txt").stat().st_mtime_ns
    p2 = ensure(tmp_path, categories=["weave"], **TINY)
    assert p1 == p2 and (p2 / "README.txt").stat().st_mtime_ns == mtime
    assert p1.parent == tmp_path and len(p1.name) == 12
    assert ensure(tmp_path, categories=["weave"], **{**TINY, "seed": 2}) != p1
    assert not list(tmp_path.glob(".tmp-*"))

    def boom(out, **kw):  # a run killed half way
        (out / "weave" / "train" / "good").mkdir(parents=True)
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic, "generate", boom)
    with pytest.raises(KeyboardInterrupt):
        ensure(tmp_path, categories=["wood"], **TINY)
    assert not list(tmp_path.glob(".tmp-*"))
    assert not (tmp_path / synthetic.cache_key(categories=["wood"], **TINY)).exists()


def test_load_split_synthetic(tmp_path):
    s = load_split("synthetic", "pill", cache_dir=tmp_path, **TINY)
    assert len(s.train) == 2 and s.info["dataset"] == "synthetic" and s.info["generator"]["size"] == 48
    assert all(x.category == "pill" for x in s.train)
    assert load_split("synthetic", "weave", cache_dir=tmp_path, **TINY).train[0].path.parent.parent.parent.parent == \
        s.train[0].path.parent.parent.parent.parent  # one dataset folder for all categories


def test_bad_parameters(tmp_path):
    with pytest.raises(DefectbookError, match="unknown synthetic category 'toy'"):
        generate(tmp_path / "x", categories=["toy"])
    with pytest.raises(DefectbookError, match="at least 32"):
        generate(tmp_path / "x", size=8)
    with pytest.raises(DefectbookError, match="unknown synthetic dataset parameter"):
        ensure(tmp_path, colour="red")
    with pytest.raises(DefectbookError, match="difficulty"):
        ensure(tmp_path, difficulty=0)
    with pytest.raises(DefectbookError, match="no defect"):
        render_pair("weave", "missing", seeded_rng(0), 48)


@pytest.mark.parametrize("cat", sorted(CATEGORIES))
def test_small_images_render_every_defect(cat):
    # 32 px used to crash for the washer (no pixel left to place a defect on its thin ring)
    for kind in CATEGORIES[cat]:
        for i in range(4):
            clean, img, mask = render_pair(cat, kind, seeded_rng(3, cat, kind, i), 32)
            assert img.shape == (32, 32, 3) and mask.shape == (32, 32)


def test_washer_at_64_px_is_unchanged_by_the_small_size_margin():
    # the margin rule keeps 2 px from 50 px up, so the images (and records) of every profile stay valid
    for i in range(5):
        sc = synthetic._washer(seeded_rng(1, "washer", i), 64)
        r, r_in, r_out = sc.extra["r"], sc.extra["r_in"], sc.extra["r_out"]
        assert np.array_equal(sc.where, (r > r_in + 2) & (r < r_out - 2))


def test_screw_at_56_px_is_unchanged_by_the_small_size_margin():
    for i in range(5):
        sc = synthetic._screw(seeded_rng(2, "screw", i), 56)
        _u, _v, s = sc.extra["u"], sc.extra["v"], sc.extra["s"]
        assert 0.065 * s >= 3          # the 2 px margin applies


def test_calibration_gives_every_kind_the_same_contrast_ratio():
    # generator v3's method-free rule (benchmarks/calibrate_synthetic.py): each kind's amplitude gives it the
    # same contrast ratio against the normal images' per-pixel variation, unless the amplitude is at its cap
    ratios = {}
    for cat, kinds in CATEGORIES.items():
        normal = np.stack([render_pair(cat, None, seeded_rng(7, cat, "train", i), 128)[1] for i in range(16)])
        sd = normal.astype(float).std(0)
        for kind in kinds:
            r = [synthetic.contrast_ratio(*render_pair(cat, kind, seeded_rng(7, cat, kind, i), 128), sd)
                 for i in range(4)]
            ratios[(cat, kind)] = np.median(r)
    free = {ck: v for ck, v in ratios.items() if synthetic.AMP[ck] < (2.0 if ck[1] == "stain" else 1.0)}
    assert len(free) >= 10
    lo, hi = min(free.values()), max(free.values())
    assert hi < 2.5 * lo, {ck: round(v, 2) for ck, v in sorted(free.items(), key=lambda x: x[1])}


def test_contrast_ratio():
    clean = np.full((8, 8, 3), 100, np.uint8)
    img = clean.copy()
    img[2:4, 2:4] = 130
    mask = (img != clean).any(-1)
    sd = np.full((8, 8, 3), 10.0)
    assert synthetic.contrast_ratio(clean, img, mask, sd) == pytest.approx(3.0)
    assert synthetic.contrast_ratio(clean, img, mask, sd * 0) == pytest.approx(30.0)   # floor: one grey level


def test_provenance_names_the_calibration_on_synthetic_pages_only():
    from types import SimpleNamespace

    from defectbook.book.report import provenance

    def rec(dataset):
        return SimpleNamespace(config={"dataset": dataset, "category": "x", "method": "padim", "profile": "cpu",
                                       "seed": 0, "transform": {"resize": 64}},
                               extras={}, env={"defectbook": "0", "git_commit": "abc"})

    assert synthetic.CALIBRATION in provenance([rec("synthetic"), rec("mtd")])
    assert synthetic.CALIBRATION not in provenance([rec("mtd")])
    assert "without any compared method" in synthetic.CALIBRATION
