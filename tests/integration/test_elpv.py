"""ELPV loader: the seeded protocol, its class counts, the fingerprint, and a clear error without the package."""
import importlib.util

import pytest

from defectbook import DefectbookError
from defectbook.data import elpv, load_split
from defectbook.data.fingerprint import fingerprint
from defectbook.pipeline import spec
from defectbook.pipeline.keys import key_of

needs_elpv = pytest.mark.skipif(not elpv.available(), reason="elpv-dataset is not installed")


@pytest.fixture()
def fake_elpv(tmp_path):
    """A tiny package-shaped data folder: 10 mono cells (p = 0 x 6, 1/3 x 1, 2/3 x 1, 1 x 2), 3 poly cells."""
    import numpy as np
    from PIL import Image

    (tmp_path / "images").mkdir()
    probs = [0, 0, 0, 0, 0, 0, 1 / 3, 2 / 3, 1, 1]
    lines = []
    for i, p in enumerate(probs + [0, 0, 1]):
        name = f"images/cell{i:04d}.png"
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(tmp_path / name)
        lines.append(f"{name}  {p!r}  {'mono' if i < len(probs) else 'poly'}")
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_protocol_counts_and_no_overlap(fake_elpv):
    s = elpv.load_elpv("mono", train_ratio=0.5, base=fake_elpv)
    assert len(s.train) == 3 and all(x.label == 0 for x in s.train)
    labels = [x.label for x in s.test]
    assert labels.count(0) == 3 and labels.count(1) == 3           # p = 2/3 and the two p = 1 cells
    assert s.info["left_out_uncertain"] == 1 and not s.has_masks
    assert not {x.path for x in s.train} & {x.path for x in s.test}
    s3 = elpv.load_elpv("mono", defective=1 / 3, train_ratio=0.5, base=fake_elpv)
    assert [x.label for x in s3.test].count(1) == 4 and s3.info["left_out_uncertain"] == 0
    s1 = elpv.load_elpv("mono", defective=1.0, train_ratio=0.5, base=fake_elpv)
    assert [x.label for x in s1.test].count(1) == 2 and s1.info["left_out_uncertain"] == 2


def test_seeded_split(fake_elpv):
    a = [x.path for x in elpv.load_elpv("mono", train_ratio=0.5, seed=3, base=fake_elpv).train]
    b = [x.path for x in elpv.load_elpv("mono", train_ratio=0.5, seed=3, base=fake_elpv).train]
    others = [[x.path for x in elpv.load_elpv("mono", train_ratio=0.5, seed=s, base=fake_elpv).train] for s in range(6)]
    assert a == b and any(o != a for o in others)


def test_bad_arguments(fake_elpv):
    with pytest.raises(DefectbookError, match="mono, poly"):
        elpv.load_elpv("cz", base=fake_elpv)
    with pytest.raises(DefectbookError, match="defective must be one of"):
        elpv.load_elpv("mono", defective=0.5, base=fake_elpv)
    with pytest.raises(DefectbookError, match="leaves no images"):
        elpv.load_elpv("poly", train_ratio=0.3, base=fake_elpv)     # 2 defect-free poly cells


def test_clear_error_without_the_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name,
                        *a: None if name == "elpv_dataset" else real(name, *a))
    assert not elpv.available()
    with pytest.raises(DefectbookError, match="pip install elpv-dataset"):
        load_split("elpv", "mono")
    assert spec.available_real(["elpv"]) == []     # the chapters then leave it out


@needs_elpv
def test_installed_package_counts_and_fingerprint(monkeypatch):
    monkeypatch.delenv("DEFECTBOOK_DATA", raising=False)
    s = load_split("elpv", "mono")
    assert s.info["n_train"] == 470 and s.info["n_test_good"] == 118 and s.info["n_defective"] == 56 + 313
    assert s.info["left_out_uncertain"] == 117
    p = load_split("elpv", "poly")
    assert p.info["n_train"] + p.info["n_test_good"] == 920 and p.info["n_defective"] == 50 + 402
    f = fingerprint(s)
    assert f["kind"] == "files" and f["n_files"] == len(s.train) + len(s.test)
    assert fingerprint(load_split("elpv", "mono", seed=1))["digest"] != f["digest"]
    cfg = {"method": "padim", "dataset": "elpv", "category": "mono", "split": {"kind": "clean", "max_train": 4,
                                                                              "max_test": 6}}
    # no data root needed: the key is computed from the installed files (no DEFECTBOOK_DATA set)
    assert key_of(cfg) == key_of(dict(cfg))
    assert key_of(cfg) != key_of({**cfg, "data": {"defective": 1.0}})
    assert ("elpv", "mono") in spec.available_real(["elpv"], data_root=None)
