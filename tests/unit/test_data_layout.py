"""defectbook.data.layout: which layout a folder of the user's images has, and what is wrong with it, before
anything is trained."""
import shutil

import pytest
from helpers.toy import write_toy_folder, write_toy_mvtec
from PIL import Image

from defectbook import DefectbookError
from defectbook.data.layout import find_layout, user_data


@pytest.fixture
def mvtec(tmp_path):
    return write_toy_mvtec(tmp_path / "data", n_train=6, n_good=2, n_bad=2)


def test_mvtec_layout_from_the_root_or_the_category_folder(mvtec):
    cat = mvtec / "mvtec" / "toy"
    assert find_layout(mvtec / "mvtec") == ("mvtec", "toy", mvtec / "mvtec"), "one category: found"
    assert find_layout(cat) == ("mvtec", "toy", mvtec / "mvtec")
    d = user_data(mvtec / "mvtec", "toy")
    assert (d.dataset, d.category, d.n_train, d.n_test_normal, d.n_test_defective, d.has_masks) == \
        ("mvtec", "toy", 6, 2, 2, True)
    assert "6 training images, 2 defect-free and 2 defective test images, pixel masks" in d.describe()


def test_several_categories_need_one_named(mvtec):
    shutil.copytree(mvtec / "mvtec" / "toy", mvtec / "mvtec" / "other")
    with pytest.raises(DefectbookError, match=r"holds 2 categories \(other, toy\): choose one with --category"):
        find_layout(mvtec / "mvtec")
    assert find_layout(mvtec / "mvtec", "other")[1] == "other"
    with pytest.raises(DefectbookError, match="no category folder 'third'"):
        find_layout(mvtec / "mvtec", "third")
    with pytest.raises(DefectbookError, match="not a folder inside the data root"):
        find_layout(mvtec / "mvtec", "../..")


def test_folder_layout(mvtec, tmp_path):
    root = write_toy_folder(tmp_path / "parts", mvtec)
    assert find_layout(root) == ("folder", None, root)
    d = user_data(root)
    assert (d.dataset, d.n_train + d.n_test_normal, d.n_test_defective, d.has_masks) == ("folder", 8, 2, True)
    (root / "masks" / "000_mask.png").unlink()
    with pytest.raises(DefectbookError, match="missing mask for .*000.png"):
        user_data(root)


def test_what_is_wrong_is_named_with_its_folder(mvtec, tmp_path):
    with pytest.raises(DefectbookError, match="does not exist"):
        user_data(tmp_path / "nowhere")
    (tmp_path / "empty" / "photos").mkdir(parents=True)
    with pytest.raises(DefectbookError, match=r"wrong layout: .*empty is in neither layout \(sub-folders: photos\)"):
        user_data(tmp_path / "empty")
    cat = mvtec / "mvtec" / "toy"
    for p in sorted((cat / "test" / "stain").glob("*.png"))[1:]:
        p.unlink()
        (cat / "ground_truth" / "stain" / f"{p.stem}_mask.png").unlink()
    with pytest.raises(DefectbookError, match=r"too few images: 1 defective test image\(s\) in .*toy/test/<defect>"):
        user_data(cat)
    assert user_data(cat, minimum={"defective test": 1}).n_test_defective == 1


def test_masks_must_match_their_images(mvtec):
    cat = mvtec / "mvtec" / "toy"
    Image.new("L", (48, 48)).save(cat / "ground_truth" / "stain" / "stray_mask.png")
    with pytest.raises(DefectbookError, match=r"stray_mask.png .* belongs to no defective image .*named stray"):
        user_data(cat)
    (cat / "ground_truth" / "stain" / "stray_mask.png").unlink()
    Image.new("L", (48, 40)).save(cat / "ground_truth" / "stain" / "001_mask.png")
    with pytest.raises(DefectbookError, match=r"mask .*001_mask.png is 48x40 but its image .*001.png is 48x48"):
        user_data(cat)


def test_a_named_layout_must_be_the_one_found(mvtec):
    with pytest.raises(DefectbookError, match="is in the mvtec layout, not folder"):
        user_data(mvtec / "mvtec", dataset="folder")
    with pytest.raises(DefectbookError, match="unknown dataset 'dagm' for a comparison"):
        user_data(mvtec / "mvtec", dataset="dagm")
