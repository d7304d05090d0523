"""Loaders (MVTec layout, MTD, DAGM, folder), load_split / resolve_root and their bad inputs."""
import numpy as np
import pytest
from PIL import Image

from defectbook import DefectbookError
from defectbook.data import DATASETS, Sample, Split, load_images, load_masks, load_split, resolve_root
from defectbook.data.dagm import load_dagm
from defectbook.data.folder import load_folder
from defectbook.data.mtd import load_mtd
from defectbook.data.mvtec import list_categories, load_mvtec
from defectbook.data.transforms import make_mask_transform, make_transform


def save(path, a):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(a, dtype=np.uint8)).save(path)


def img(rng, h=32, w=32):
    return rng.integers(0, 255, (h, w), dtype=np.uint8)


def square_mask(h=32, w=32):
    m = np.zeros((h, w), np.uint8)
    m[8:16, 8:16] = 255
    return m


def write_mvtec(root, cat="toy", defects=("crack", "stain"), n_train=4, n_good=2, n_bad=2, masks=True, seed=0):
    rng = np.random.default_rng(seed)
    c = root / cat
    for i in range(n_train):
        save(c / "train" / "good" / f"{i:03d}.png", img(rng))
    for i in range(n_good):
        save(c / "test" / "good" / f"{i:03d}.png", img(rng))
    for d in defects:
        for i in range(n_bad):
            save(c / "test" / d / f"{i:03d}.png", img(rng))
            if masks:
                save(c / "ground_truth" / d / f"{i:03d}_mask.png", square_mask())
    return root


def one_line(e):
    msg = str(e.value)
    assert msg and "\n" not in msg
    return msg


# --- MVTec -------------------------------------------------------------------------------------------

def test_mvtec_order_labels_masks(tmp_path):
    write_mvtec(tmp_path / "mvtec", "b_cat")
    write_mvtec(tmp_path / "mvtec", "a_cat")
    assert list_categories(tmp_path) == ["a_cat", "b_cat"]
    s = load_mvtec(tmp_path, "a_cat")
    assert len(s.train) == 4 and len(s.test) == 6 and s.has_masks
    assert [x.defect for x in s.test] == ["good", "good", "crack", "crack", "stain", "stain"]
    assert list(s.test_labels) == [0, 0, 1, 1, 1, 1]
    assert all(x.category == "a_cat" for x in s.train + s.test)
    assert s.test[2].mask.name == "000_mask.png" and s.test[0].mask is None
    assert s.train == sorted(s.train, key=lambda x: x.path)
    assert load_mvtec(tmp_path / "mvtec", "a_cat").test == s.test  # root may be the mvtec folder itself
    m = load_masks(s.test, make_mask_transform(16))
    assert m.shape == (6, 16, 16) and m[:2].sum() == 0 and m[2].sum() == 16
    x = load_images(s.train, make_transform(24, 20))
    assert x.shape == (4, 3, 20, 20) and x.dtype.is_floating_point and 0 <= x.min() and x.max() <= 1


def test_mvtec_without_ground_truth(tmp_path):
    write_mvtec(tmp_path, masks=False)
    s = load_mvtec(tmp_path, "toy")
    assert not s.has_masks and "image-level" in s.info["note"]
    assert all(x.mask is None for x in s.test)


def test_mvtec_missing_mask_file(tmp_path):
    write_mvtec(tmp_path)
    (tmp_path / "toy" / "ground_truth" / "stain" / "001_mask.png").unlink()
    with pytest.raises(DefectbookError, match="missing mask") as e:
        load_mvtec(tmp_path, "toy")
    assert "001_mask.png" in one_line(e)


def test_mvtec_wrong_layout_and_unknown_category(tmp_path):
    (tmp_path / "toy" / "test" / "good").mkdir(parents=True)
    with pytest.raises(DefectbookError, match="train/good") as e:
        load_mvtec(tmp_path, "toy")
    one_line(e)
    with pytest.raises(DefectbookError, match="not found") as e:
        load_mvtec(tmp_path, "nope")
    one_line(e)
    with pytest.raises(DefectbookError, match="no MVTec-layout categories") as e:
        list_categories(tmp_path / "toy")
    one_line(e)


def test_empty_split(tmp_path):
    write_mvtec(tmp_path, n_train=0)
    (tmp_path / "toy" / "train" / "good").mkdir(parents=True, exist_ok=True)
    with pytest.raises(DefectbookError, match="empty training split") as e:
        load_mvtec(tmp_path, "toy")
    one_line(e)
    with pytest.raises(DefectbookError, match="empty"):
        Split([Sample(tmp_path / "a.png", 0)], [])


def test_unreadable_image_and_mask_size_mismatch(tmp_path):
    write_mvtec(tmp_path)
    bad = tmp_path / "toy" / "test" / "crack" / "000.png"
    bad.write_bytes(b"not a png")
    s = load_mvtec(tmp_path, "toy")
    with pytest.raises(DefectbookError, match="cannot read image") as e:
        load_images(s.test, make_transform(16))
    one_line(e)
    with pytest.raises(DefectbookError, match="cannot read image") as e:
        load_masks(s.test, make_mask_transform(16))
    one_line(e)
    save(bad, img(np.random.default_rng(1)))
    save(tmp_path / "toy" / "ground_truth" / "stain" / "000_mask.png", np.zeros((20, 32)))
    with pytest.raises(DefectbookError, match="20") as e:
        load_masks(load_mvtec(tmp_path, "toy").test, make_mask_transform(16))
    assert "mask" in one_line(e)


# --- MTD -----------------------------------------------------------------------------------------------

def write_mtd(root, n_free=10, n_bad=2, with_list=True):
    rng = np.random.default_rng(0)
    names = []
    for i in range(n_free):
        h, w = 20 + i, 30 - i  # sizes vary
        save(root / "MT_Free" / "Imgs" / f"f{i}.jpg", img(rng, h, w))
        save(root / "MT_Free" / "Imgs" / f"f{i}.png", np.zeros((h, w)))
        names.append(f"f{i}.jpg")
    for d in ("MT_Blowhole", "MT_Break", "MT_Crack", "MT_Fray", "MT_Uneven"):
        for i in range(n_bad):
            save(root / d / "Imgs" / f"{d}{i}.jpg", img(rng, 24, 24))
            save(root / d / "Imgs" / f"{d}{i}.png", square_mask(24, 24))
    if with_list:
        (root / "differnet_train_filenames.txt").write_text("\n".join(names[:8]) + "\n")
    return root


def test_mtd_replica_paper_and_random(tmp_path):
    write_mtd(tmp_path / "mtd")
    for root in (tmp_path, tmp_path / "mtd"):
        s = load_mtd(root)
        assert len(s.train) == 8 and len(s.test) == 2 + 10 and s.info["split"] == "paper"
    assert {x.defect for x in s.test} == {"good", "blowhole", "break", "crack", "fray", "uneven"}
    assert all(x.mask is None for x in s.test if x.label == 0) and all(x.mask for x in s.test if x.label)
    r1, r2, r3 = (
        load_mtd(tmp_path, "random", seed=0),
        load_mtd(tmp_path, "random", seed=0),
        load_mtd(tmp_path, "random", seed=1),
    )
    assert r1.train == r2.train and len(r1.train) == 8
    assert {x.path for x in r1.train} != {x.path for x in r3.train} or True  # seeds may collide on 10 images
    x = load_images(s.test[:3], make_transform(16))
    assert x.shape == (3, 3, 16, 16)


def test_mtd_bad_inputs(tmp_path):
    with pytest.raises(DefectbookError, match="MT_Free") as e:
        load_mtd(tmp_path)
    one_line(e)
    write_mtd(tmp_path, with_list=False)
    with pytest.raises(DefectbookError, match="random") as e:
        load_mtd(tmp_path, "paper")
    one_line(e)
    with pytest.raises(DefectbookError, match="unknown MTD split"):
        load_mtd(tmp_path, "nope")
    with pytest.raises(DefectbookError, match="train_ratio"):
        load_mtd(tmp_path, "random", train_ratio=1.5)
    (tmp_path / "differnet_train_filenames.txt").write_text("f0.jpg\nghost.jpg\n")
    with pytest.raises(DefectbookError, match="ghost.jpg") as e:
        load_mtd(tmp_path)
    one_line(e)


@pytest.mark.realdata
def test_mtd_real_paper_split(mtd_root):
    s = load_mtd(mtd_root)
    assert len(s.train) == 761
    assert sum(1 for x in s.test if x.label == 0) == 191
    assert sum(x.label for x in s.test) == 392
    assert s.info["defects"] == {"blowhole": 115, "break": 85, "crack": 57, "fray": 32, "uneven": 103}
    r = load_mtd(mtd_root, "random", seed=0)
    assert len(r.train) == 761 and len(r.test) == 191 + 392
    assert load_split("mtd", root=mtd_root).info["n_train"] == 761
    sub = [x for x in s.test if x.label][:2] + s.train[:1]
    x, m = load_images(sub, make_transform(64)), load_masks(sub, make_mask_transform(64))
    assert x.shape == (3, 3, 64, 64) and m.shape == (3, 64, 64) and m[:2].sum() > 0 and m[2].sum() == 0


# --- DAGM -----------------------------------------------------------------------------------------------

def write_dagm(root, cls="Class1", n=4, bad=(1, 3)):
    rng = np.random.default_rng(0)
    for part in ("Train", "Test"):
        d = root / cls / part
        rows = ["1"]
        for i in range(1, n + 1):
            name = f"{i:04d}.PNG"
            save(d / name, img(rng, 64, 64))
            if i in bad:
                save(d / "Label" / f"{i:04d}_label.PNG", square_mask(64, 64))
                rows.append(f"{i}\t1\t{name}\t0\t{i:04d}_label.PNG")
            else:
                rows.append(f"{i}\t0\t{name}\t0\t0")
        (d / "Label").mkdir(parents=True, exist_ok=True)
        (d / "Label" / "Labels.txt").write_text("\n".join(rows) + "\n")
    return root


def test_dagm_replica(tmp_path):
    write_dagm(tmp_path / "dagm")
    for cid in (1, "1", "Class1"):
        s = load_dagm(tmp_path, cid)
        assert len(s.train) == 2 and len(s.test) == 4
    assert list(s.test_labels) == [0, 0, 1, 1] and s.test[2].mask.name == "0001_label.PNG"
    assert all(x.category == "Class1" for x in s.train + s.test)
    assert load_masks(s.test, make_mask_transform(32))[2].sum() == 16
    assert load_split("dagm", "Class1", root=tmp_path).info["n_defective"] == 2


def test_dagm_bad_inputs(tmp_path):
    with pytest.raises(DefectbookError, match="ClassN") as e:
        load_dagm(tmp_path, 1)
    one_line(e)
    write_dagm(tmp_path)
    with pytest.raises(DefectbookError, match="Class7 not found") as e:
        load_dagm(tmp_path, 7)
    one_line(e)
    with pytest.raises(DefectbookError, match="number"):
        load_dagm(tmp_path, "bogus")
    (tmp_path / "Class1" / "Test" / "Label" / "0003_label.PNG").unlink()
    with pytest.raises(DefectbookError, match="missing mask") as e:
        load_dagm(tmp_path, 1)
    one_line(e)
    (tmp_path / "Class1" / "Train" / "Label" / "Labels.txt").unlink()
    with pytest.raises(DefectbookError, match="Labels.txt") as e:
        load_dagm(tmp_path, 1)
    one_line(e)


# --- folder -------------------------------------------------------------------------------------------

def test_folder_dataset(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(10):
        save(tmp_path / "normal" / f"n{i}.png", img(rng))
    for i in range(3):
        save(tmp_path / "abnormal" / f"a{i}.png", img(rng))
        save(tmp_path / "masks" / f"a{i}_mask.png", square_mask())
    s = load_folder(tmp_path / "normal", tmp_path / "abnormal", tmp_path / "masks", test_split_ratio=0.2, seed=0)
    assert len(s.train) == 8 and len(s.test) == 5 and s.has_masks
    assert [x.label for x in s.test] == [0, 0, 1, 1, 1] and s.test[-1].mask.name == "a2_mask.png"
    assert load_folder(tmp_path / "normal", seed=0).train == load_folder(tmp_path / "normal", seed=0).train
    assert not load_folder(tmp_path / "normal", tmp_path / "abnormal").has_masks
    via = load_split("folder", root=tmp_path)
    assert len(via.train) == 8 and via.has_masks
    (tmp_path / "masks" / "a1_mask.png").unlink()
    with pytest.raises(DefectbookError, match="missing mask") as e:
        load_folder(tmp_path / "normal", tmp_path / "abnormal", tmp_path / "masks")
    one_line(e)
    with pytest.raises(DefectbookError, match="does not exist") as e:
        load_folder(tmp_path / "nothing")
    one_line(e)


# --- load_split / resolve_root ---------------------------------------------------------------------

def test_resolve_root(tmp_path, monkeypatch):
    monkeypatch.delenv("DEFECTBOOK_DATA", raising=False)
    with pytest.raises(DefectbookError, match="no data root: pass --data-root or set DEFECTBOOK_DATA") as e:
        resolve_root()
    one_line(e)
    monkeypatch.setenv("DEFECTBOOK_DATA", str(tmp_path))
    assert resolve_root() == tmp_path
    assert resolve_root(tmp_path / ".") == tmp_path / "."
    with pytest.raises(DefectbookError, match="missing_dir") as e:
        resolve_root(tmp_path / "missing_dir")
    one_line(e)
    monkeypatch.delenv("DEFECTBOOK_DATA")
    with pytest.raises(DefectbookError, match="no data root"):
        load_split("mvtec", "toy")


def test_load_split_dispatch_and_unknown(tmp_path):
    assert DATASETS == ("synthetic", "mvtec", "mtd", "dagm", "folder", "elpv")
    write_mvtec(tmp_path / "mvtec")
    assert len(load_split("mvtec", "toy", root=tmp_path).train) == 4
    with pytest.raises(DefectbookError, match="unknown dataset 'imagenet'") as e:
        load_split("imagenet", root=tmp_path)
    one_line(e)
    with pytest.raises(DefectbookError, match="needs a category"):
        load_split("mvtec", root=tmp_path)
    with pytest.raises(DefectbookError, match="synthetic category"):
        load_split("synthetic", "toy", cache_dir=tmp_path)
