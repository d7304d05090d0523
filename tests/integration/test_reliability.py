"""No silent wrong result, no traceback for a user's mistake.

Every case builds its damaged data or record in a temporary folder.
"""
import json
import os
import shutil
import zipfile

import numpy as np
import pytest
import torch
from helpers.toy import cfg, write_toy_mvtec
from PIL import Image

from defectbook import DefectbookError
from defectbook.cli import main as cli_main
from defectbook.data.base import Sample, load_masks, mask_array, read_image, read_mask
from defectbook.pipeline import run as experiment
from defectbook.pipeline.keys import key_of
from defectbook.pipeline.store import Store, decode_maps, encode_maps


def touch_later(path):
    """Move a file's mtime forward (file systems with coarse clocks would otherwise hide an edit)."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


# --- 1. the record key follows the data -------------------------------------------------------------

def test_key_depends_on_the_data_root_and_its_files(toy, tmp_path):
    a = key_of(cfg(toy))
    other = write_toy_mvtec(tmp_path / "other", seed=1, n_train=9)        # another dataset, same config
    assert key_of(cfg(other)) != a
    with pytest.raises(DefectbookError, match="does not exist"):
        key_of(cfg(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DefectbookError):
        key_of(cfg(tmp_path / "empty"))


def test_data_changed_in_place_is_recomputed_and_the_record_says_where_from(toy):
    rec = experiment.run(cfg(toy))
    data = rec.extras["data"]
    assert data["root"] == str(toy) and data["fingerprint"]["kind"] == "files"
    assert data["fingerprint"]["digest"] and data["fingerprint"]["n_files"] == 8 + 3 + 3 + 3
    img = toy / "mvtec" / "toy" / "test" / "good" / "000.png"
    Image.fromarray(np.full((48, 48), 250, np.uint8)).save(img)            # a bright test image now
    touch_later(img)
    again = experiment.run(cfg(toy))
    assert again.key != rec.key
    assert again.extras["data"]["fingerprint"]["digest"] != data["fingerprint"]["digest"]
    assert again.scores[0] != rec.scores[0]                                 # computed on the new image


def test_synthetic_records_name_the_generator(isolated):
    from defectbook.data.fingerprint import fingerprint
    from defectbook.data.prepare import load_split_for

    c = {"method": "padim", "dataset": "synthetic", "category": "weave",
         "data": {"size": 32, "n_train": 4, "n_test_good": 2, "n_test_defect": 1, "categories": ["weave"]}}
    fp = fingerprint(load_split_for(c))
    assert fp["kind"] == "generator" and fp["generator_version"] and fp["generator"]["size"] == 32


# --- 2. image modes -------------------------------------------------------------------------------

def test_16bit_png_keeps_its_range(tmp_path):
    a = np.full((8, 8), 30000, np.uint16)
    a[0, 0] = 65535
    p = tmp_path / "deep.png"
    Image.fromarray(a).save(p)
    assert Image.open(p).mode.startswith("I")
    rgb = np.asarray(read_image(p))
    assert rgb[1, 1, 0] == round(30000 / 257) and rgb[0, 0, 0] == 255      # not all white


def test_palette_and_cmyk_convert_and_odd_modes_are_rejected(tmp_path):
    pal = Image.new("P", (4, 4))
    pal.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    pal.putpixel((1, 1), 1)
    pal.save(tmp_path / "pal.png")
    assert tuple(np.asarray(read_image(tmp_path / "pal.png"))[1, 1]) == (200, 10, 10)
    Image.new("CMYK", (4, 4), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    r, g, b = np.asarray(read_image(tmp_path / "cmyk.jpg"))[2, 2].astype(int)
    assert r > 200 and g < 60 and b < 60                                      # red stays red
    Image.fromarray(np.full((4, 4), 7.5, np.float32)).save(tmp_path / "float.tif")
    with pytest.raises(DefectbookError, match="float.tif.*not supported"):
        read_image(tmp_path / "float.tif")


# --- 3. masks -------------------------------------------------------------------------------------

@pytest.mark.parametrize("values", [(0, 1), (0, 255)])
def test_binary_masks_are_read(tmp_path, values):
    m = np.zeros((6, 6), np.uint8)
    m[2:4, 2:4] = values[1]
    Image.fromarray(m).save(tmp_path / "m.png")
    assert read_mask(tmp_path / "m.png", (6, 6)).sum() == 4


def test_non_binary_mask_is_an_error_naming_the_file_or_needs_an_explicit_threshold(tmp_path):
    m = np.zeros((6, 6), np.uint8)
    m[2:4, 2:4] = 100                                                          # a defect drawn at 100
    Image.fromarray(m).save(tmp_path / "soft.png")
    with pytest.raises(DefectbookError, match="soft.png is not binary"):
        read_mask(tmp_path / "soft.png", (6, 6))
    Image.fromarray(np.zeros((6, 6), np.uint8)).save(tmp_path / "img.png")
    s = Sample(tmp_path / "img.png", 1, "x", tmp_path / "soft.png")
    with pytest.raises(DefectbookError, match="soft.png"):
        load_masks([s], lambda im: torch.from_numpy(np.asarray(im, np.float32) / 255)[None])
    assert mask_array(tmp_path / "soft.png", threshold=50).sum() == 4        # explicit threshold
    assert mask_array(tmp_path / "soft.png", threshold=127).sum() == 0


def test_mtd_records_its_mask_threshold(mtd_root):
    from defectbook.data.mtd import MASK_THRESHOLD, load_mtd

    split = load_mtd(mtd_root / "mtd")
    assert split.info["mask_threshold"] == MASK_THRESHOLD
    assert all(s.mask_threshold == MASK_THRESHOLD for s in split.test if s.mask is not None)


# --- 4. ties stay ties ----------------------------------------------------------------------------

@pytest.mark.parametrize("method,params", [
    ("padim", {"d": 12, "batch_size": 8}),
    ("patchcore", {"batch_size": 8, "target_dim": 64, "proj_dim": 16}),
    ("differnet", {"epochs": 1, "n_blocks": 1, "width": 16, "test_transforms": 1, "batch_size": 8, "feature_batch": 8,
                   "localize": True, "localize_transforms": 1, "scales": [1.0]}),
    ("ae_l2", {"epochs": 1, "latent": 8, "width": 0.25, "batch_size": 8})])
def test_constant_images_tie_wherever_they_sit_in_the_batches(one_thread, method, params):
    from defectbook.evaluation.metrics import evaluate
    from defectbook.methods import build

    g = torch.Generator().manual_seed(0)
    train = 0.4 + 0.2 * torch.rand(6, 3, 48, 48, generator=g)
    test = torch.full((11, 3, 48, 48), 0.5)                                   # batches of 8 and 3
    pred = build(method, **params).fit(train).predict(test)
    assert len(np.unique(pred.image_scores)) == 1
    assert len(np.unique(pred.maps.reshape(11, -1).max(1))) == 1
    labels = np.array([0, 1] * 5 + [0])
    assert evaluate(labels, pred.image_scores, None, None)["image_auroc"] == pytest.approx(0.5)


# --- 5. parameters --------------------------------------------------------------------------------

BAD = [("padim", "sigma", -1), ("padim", "eps", 0), ("padim", "d", "abc"), ("padim", "batch_size", 0),
       ("patchcore", "coreset_ratio", 0), ("patchcore", "num_neighbors", -1), ("spade", "k_images", 0),
       ("npad", "eps", 0), ("npad", "beta", -1), ("npad", "train_radius", -1), ("npad", "ddof", 2),
       ("differnet", "lr", 0), ("differnet", "clamp", -3), ("differnet", "localize_transforms", 0),
       ("knn", "pca", 0), ("ocsvm", "nu", 1.5), ("ocsvm", "gamma", -1), ("memae", "shrink", 1.0),
       ("ae_l2", "lr", -1e-4), ("ae_ssim", "epochs", 0), ("trustmae", "k", 0), ("trustmae", "delta2", -1.0),
       ("trustmae", "lambda_rec", -1), ("ensemble", "sizes", [0])]


@pytest.mark.parametrize("method,name,value", BAD)
def test_parameters_outside_their_domain_are_refused(method, name, value):
    from defectbook.methods import build

    with pytest.raises(DefectbookError, match=f"parameter {name} must be"):
        build(method, **{name: value})


def test_unknown_parameter_is_named():
    from defectbook.methods import build

    with pytest.raises(DefectbookError, match="unknown parameter sgma for method 'padim'; known: .*sigma"):
        build("padim", sgma=4)


# --- 6. records -----------------------------------------------------------------------------------

def test_hand_edited_record_is_not_served(toy):
    rec = experiment.run(cfg(toy))
    path = Store().path(rec.key)
    data = json.loads(path.read_text())
    assert data["checksum"]
    data["metrics"]["image_auroc"] = 0.123
    path.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="fails its checksum"):
        assert Store().get(rec.key) is None
    with pytest.warns(UserWarning):
        again = experiment.run(cfg(toy))
    assert again.metrics["image_auroc"] == rec.metrics["image_auroc"] != 0.123
    assert Store().get(rec.key).metrics == rec.metrics                      # rewritten, verified


@pytest.mark.parametrize("damage", ["list", "missing_field", "extra_field", "no_checksum"])
def test_record_of_the_wrong_shape_is_recomputed_not_a_traceback(toy, damage):
    rec = experiment.run(cfg(toy))
    path = Store().path(rec.key)
    data = json.loads(path.read_text())
    if damage == "list":
        data = [data]
    elif damage == "missing_field":
        data.pop("metrics")
    elif damage == "extra_field":
        data["surprise"] = 1
    else:
        data.pop("checksum")
    path.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match=str(path.name)):
        again = experiment.run(cfg(toy))
    assert again.metrics == rec.metrics


# --- 8. maps --------------------------------------------------------------------------------------

@pytest.mark.parametrize("lo,hi", [(0.0, 1e7), (1000.0, 1000.001), (-5e-9, 5e-9)])
def test_maps_keep_their_range(lo, hi):
    m = np.linspace(lo, hi, 2 * 16 * 16).reshape(2, 16, 16)
    back = decode_maps(encode_maps(m))["maps"]
    assert np.isfinite(back).all() and back.dtype == np.float32
    np.testing.assert_allclose(back, m, rtol=1e-5, atol=(hi - lo) * 1e-3)
    assert back.max() > back.min()                                           # not blank


def test_non_finite_maps_fail_loudly():
    m = np.zeros((1, 4, 4))
    m[0, 1, 1] = np.inf
    with pytest.raises(DefectbookError, match="NaN or infinite"):
        encode_maps(m)


def test_stored_maps_round_trip_and_a_truncated_file_is_a_clear_error(toy):
    rec = experiment.run(cfg(toy))
    maps = rec.maps()["maps"]
    assert maps.dtype == np.float32 and maps.max() > maps.min()
    npz = Store().root / f"{rec.key}.npz"
    blob = npz.read_bytes()
    npz.write_bytes(blob[: len(blob) // 2])
    with pytest.warns(UserWarning, match="changed or damaged"):
        assert Store().get(rec.key) is None                                  # the record is not served
    with pytest.raises(DefectbookError, match="changed or damaged.*--force"):
        rec.maps()                                                           # nor its maps, read later


# --- 7. interrupted or failed notebooks -----------------------------------------------------------

def _nb(tmp_path, body):
    src = tmp_path / "grp" / "nb.py"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text('# %% tags=["parameters"]\nprofile = "cpu"\n\n# %%\n' + body + "\n")
    return src


def test_failed_run_never_replaces_a_good_copy_and_is_marked_failed(tmp_path):
    import nbformat

    from defectbook.book.execute import execute, is_complete

    out = tmp_path / "out" / "nb.ipynb"
    assert execute(_nb(tmp_path, "x = 1"), out, "smoke").status == "ok"
    assert is_complete(out)
    good = out.read_bytes()
    o = execute(_nb(tmp_path, 'raise ValueError("broken")'), out, "smoke")
    assert o.status == "FAILED" and "broken" in o.error
    assert out.read_bytes() == good                                          # the good copy is kept
    failed = nbformat.read(out.with_name("nb.failed.ipynb"), as_version=4)
    assert failed.metadata["defectbook"]["status"] == "failed"


def test_interrupted_run_leaves_a_visible_not_executed_page(tmp_path, monkeypatch):
    import nbformat
    import papermill

    from defectbook.book.execute import execute, is_complete

    def interrupted(src, dest, **kw):  # papermill wrote a copy whose cells never ran, then Ctrl-C
        nb = nbformat.read(src, as_version=4)
        nbformat.write(nb, dest)
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    out = tmp_path / "out" / "nb.ipynb"
    with pytest.raises(KeyboardInterrupt):
        execute(_nb(tmp_path, "x = 1"), out, "smoke")
    page = nbformat.read(out, as_version=4)
    assert page.metadata["defectbook"]["status"] == "not executed" and not is_complete(out)
    assert "not executed" in page.cells[0].source and "interrupted" in page.cells[0].source
    assert nbformat.read(out.with_name("nb.failed.ipynb"), as_version=4).metadata["defectbook"]["status"] == "failed"

    def silent(src, dest, **kw):  # returns normally but no cell ran: not complete either
        nbformat.write(nbformat.read(src, as_version=4), dest)

    monkeypatch.setattr(papermill, "execute_notebook", silent)
    o = execute(_nb(tmp_path, "x = 1"), out, "smoke")
    assert o.status == "FAILED" and "before every cell ran" in o.error


# --- tracebacks turned into clear errors (exit status 2, before any data is loaded) -----------------

def test_parse_params_reads_exponents_as_numbers():
    from defectbook.book.execute import parse_params

    assert parse_params(["d=1e3", "lr=1e-4", "x=2.5e1"]) == {"d": 1000, "lr": 1e-4, "x": 25.0}
    with pytest.raises(DefectbookError, match="cannot parse"):
        parse_params(["seeds=[0,"])


@pytest.mark.parametrize("param,message", [("d=abc", "parameter d must be an integer"),
                                           ("batch_size=0", "parameter batch_size must be an integer >= 1"),
                                           ("eps=0", "parameter eps must be a number > 0"),
                                           ("sgma=4", "unknown parameter sgma"),
                                           ("d", "KEY=VALUE")])
def test_cli_bad_parameter_is_one_line_exit_2_before_loading(toy, monkeypatch, capsys, param, message):
    def no_data(*a, **k):
        raise AssertionError("data were loaded before the parameters were checked")

    monkeypatch.setattr(experiment, "prepare", no_data)  # (listing the files for the record key is allowed)
    code = cli_main(["evaluate", "--method", "padim", "--dataset", "mvtec", "--category", "toy", "--profile", "smoke",
                     "--data-root", str(toy), "-p", param])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1


def test_reproduce_unknown_or_mistyped_parameter_exit_2(capsys, monkeypatch):
    import defectbook.book.execute as rp

    monkeypatch.setattr(rp, "execute", lambda *a, **k: pytest.fail("a notebook ran"))
    assert cli_main(["reproduce", "--profile", "smoke", "--only", "padim/*", "-p", "no_such_param=1"]) == 2
    assert "unknown parameter 'no_such_param'" in capsys.readouterr().err
    assert cli_main(["reproduce", "--profile", "smoke", "--only", "padim/*", "-p", "profile=3"]) == 2
    assert "should be a str" in capsys.readouterr().err
    assert cli_main(["reproduce", "--profile", "smoke", "--only", "padim/*", "-p", "d=abc"]) == 2
    assert "parameter d must be an integer" in capsys.readouterr().err


def test_singular_covariance_is_a_clear_error():
    from defectbook.components.gaussian import precision_from_covariance

    with pytest.raises(DefectbookError, match="not positive definite.*eps"):
        precision_from_covariance(torch.zeros(2, 3, 3))


# --- data check, downloads ------------------------------------------------------------------------

def test_data_check_reports_a_test_set_without_defects(tmp_path, capsys):
    root = write_toy_mvtec(tmp_path, n_bad=0)
    shutil.rmtree(root / "mvtec" / "toy" / "ground_truth", ignore_errors=True)
    assert cli_main(["data", "check", str(root)]) == 1
    assert "the test set has no defective images" in capsys.readouterr().out


def test_data_check_reports_a_non_binary_mask(tmp_path, capsys):
    root = write_toy_mvtec(tmp_path)
    m = root / "mvtec" / "toy" / "ground_truth" / "stain" / "000_mask.png"
    a = np.asarray(Image.open(m)).copy()
    a[a > 0] = 100
    Image.fromarray(a).save(m)
    assert cli_main(["data", "check", str(root)]) == 1
    assert "000_mask.png is not binary" in capsys.readouterr().out


def test_unverified_download_needs_an_explicit_flag(tmp_path, monkeypatch):
    from defectbook.data import fetch as F

    monkeypatch.setattr(F, "_download", lambda *a: pytest.fail("downloaded without the flag"))
    for name in ("mtd", "dagm"):
        with pytest.raises(DefectbookError, match="--allow-unverified"):
            F.fetch(name, tmp_path)

    def fake_download(url, dest):
        with zipfile.ZipFile(dest, "w") as z:
            z.writestr("repo/MT_Free/Imgs/a.jpg", b"x")

    monkeypatch.setattr(F, "_download", fake_download)
    lines = []
    monkeypatch.setattr("builtins.print", lambda *a, **k: lines.append(" ".join(map(str, a))))
    F.fetch("mtd", tmp_path, allow_unverified=True)
    assert any("UNVERIFIED" in line for line in lines)


def test_backbone_download_is_hash_checked(tmp_path, monkeypatch):
    from defectbook.components import backbones

    seen = {}

    def fake(url, dst, hash_prefix=None, progress=True):
        seen["hash_prefix"] = hash_prefix
        raise RuntimeError("invalid hash value")

    monkeypatch.delenv("DEFECTBOOK_OFFLINE", raising=False)
    monkeypatch.delenv("DEFECTBOOK_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", fake)
    monkeypatch.delenv("DEFECTBOOK_DOWNLOAD", raising=False)
    with pytest.raises(DefectbookError, match="no ImageNet weights.*DEFECTBOOK_DOWNLOAD"):
        backbones.resolve_weight_file("resnet18")
    assert not seen, "a run reached for the network without DEFECTBOOK_DOWNLOAD=1"
    monkeypatch.setenv("DEFECTBOOK_DOWNLOAD", "1")
    with pytest.raises(DefectbookError, match="no ImageNet weights"):
        backbones.resolve_weight_file("resnet18")
    assert seen["hash_prefix"] == "f37072fd"
    assert not (tmp_path / "checkpoints" / "resnet18-f37072fd.pth").exists()


def test_run_refuses_a_test_set_without_defects_before_fitting(isolated, monkeypatch):
    from defectbook.methods.padim import PaDiM

    root = write_toy_mvtec(isolated / "data", n_bad=0)
    monkeypatch.setattr(PaDiM, "fit", lambda *a: pytest.fail("fitted"))
    with pytest.raises(DefectbookError, match="has no defective images.*data check"):
        experiment.run(cfg(root))


def test_folder_dataset_takes_an_explicit_recorded_mask_threshold(tmp_path):
    from defectbook.data import load_masks, load_split
    from defectbook.data.transforms import make_mask_transform

    for part in ("normal", "abnormal"):
        for i in range(3):
            (tmp_path / part).mkdir(exist_ok=True)
            Image.fromarray(np.full((16, 16), 120, np.uint8)).save(tmp_path / part / f"{i}.png")
    (tmp_path / "masks").mkdir()
    for i in range(3):
        m = np.zeros((16, 16), np.uint8)
        m[4:8, 4:8] = 100
        Image.fromarray(m).save(tmp_path / "masks" / f"{i}.png")
    mtf = make_mask_transform(16, None)
    split = load_split("folder", root=tmp_path)
    with pytest.raises(DefectbookError, match="not binary"):
        load_masks(split.test, mtf)
    split = load_split("folder", root=tmp_path, mask_threshold=50)
    assert split.info["mask_threshold"] == 50
    assert load_masks([s for s in split.test if s.label], mtf).sum() == 3 * 16


def test_book_shows_a_not_executed_page_for_missing_or_incomplete_notebooks(tmp_path, monkeypatch):
    import subprocess

    import nbformat

    from defectbook.book.execute import is_complete
    from defectbook.book.toc import build_book

    for name in ("never", "cut"):
        _nb(tmp_path / "notebooks", "x = 1").rename(tmp_path / "notebooks" / "grp" / f"{name}.py")
    cut = tmp_path / "book" / "executed" / "grp" / "cut.ipynb"
    cut.parent.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])   # no execution count
    nb.metadata["papermill"] = {"exception": None}
    nbformat.write(nb, cut)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0))
    assert build_book(tmp_path) == 0
    for name in ("never", "cut"):
        page = nbformat.read(tmp_path / "book" / "executed" / "grp" / f"{name}.ipynb", as_version=4)
        assert page.metadata["defectbook"]["status"] == "not executed"
        assert "was not executed" in page.cells[0].source
    assert "incomplete" in nbformat.read(cut, as_version=4).cells[0].source
    assert not is_complete(cut)


def test_ctrl_c_is_one_line_not_a_traceback(monkeypatch, capsys):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiment, "run", interrupted)
    assert cli_main(["evaluate", "--method", "padim", "--profile", "smoke"]) == 130
    assert capsys.readouterr().err.strip() == "defectbook: interrupted"
