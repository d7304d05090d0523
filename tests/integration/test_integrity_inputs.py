"""Hostile or broken inputs and user mistakes: one clear line naming the problem and the fix, exit status 2,
nothing partial left behind.

Every case builds its data in a temporary folder; nothing reaches the network.
"""
import io
import socket
import time
import zipfile

import pytest
import torch
from helpers.toy import write_toy_mvtec
from PIL import Image

import defectbook.book.execute as rp
from defectbook import DefectbookError
from defectbook.cli import main as cli_main
from defectbook.data import load_split
from defectbook.data.base import image_size, read_image, read_mask


def error_line(capsys) -> str:
    """The error line on stderr: the last line, the only one of its kind, no traceback (an experiment's
    own log line may come before it)."""
    err = capsys.readouterr().err.strip()
    last = err.splitlines()[-1] if err else ""
    assert last.startswith("defectbook: error:") and err.count("defectbook: error:") == 1, err
    assert "Traceback" not in err, err
    return last


def no_records(isolated) -> bool:
    """No record (nor any other file) was written into the results store."""
    results = isolated / "results"
    return not results.exists() or not any(p.is_file() for p in results.rglob("*"))


def evaluate(toy, *extra) -> int:
    return cli_main(["evaluate", "--method", "padim", "--dataset", "mvtec", "--category", "toy", "--profile", "smoke",
                     "--data-root", str(toy), *extra])


# --- decompression bombs ----------------------------------------------------------------------------

def test_decompression_bomb_is_refused_in_both_variants(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)
    warn, error = tmp_path / "warn.png", tmp_path / "error.png"
    Image.new("1", (80, 80)).save(warn)        # 6400 pixels: above the limit, PIL only warns
    Image.new("1", (128, 128)).save(error)     # 16384 pixels: above twice the limit, PIL raises
    for path in (warn, error):
        for read in (read_image, image_size):
            with pytest.raises(DefectbookError, match=rf"refusing image {path}: .*decompression bomb.*MAX_IMAGE_PIX"):
                read(path)
        with pytest.raises(DefectbookError, match=rf"refusing mask {path}: "):
            read_mask(path, (80, 80))
    Image.new("L", (40, 40)).save(tmp_path / "fine.png")
    assert read_image(tmp_path / "fine.png").size == (40, 40)


def test_a_real_size_bomb_is_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (15000, 15000)).save(bomb)   # 225 Mpixels (PIL's default limit: 179): tiny on disk
    assert bomb.stat().st_size < 100_000
    with pytest.raises(DefectbookError, match="refusing image .*bomb.png.*225000000 pixels"):
        read_image(bomb)


def test_a_bomb_among_the_data_is_exit_2_naming_it(toy, isolated, monkeypatch, capsys):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)        # toy images: 48 x 48 = 2304 pixels
    bomb = toy / "mvtec" / "toy" / "train" / "good" / "003.png"
    Image.new("L", (80, 80)).save(bomb)                           # the warning variant
    assert evaluate(toy) == 2
    err = error_line(capsys)
    assert f"refusing image {bomb}" in err and "decompression bomb" in err
    assert no_records(isolated)
    assert cli_main(["data", "check", str(toy)]) == 1
    assert f"unreadable image {bomb}" in capsys.readouterr().out


# --- an unreachable scheduler -----------------------------------------------------------------------

def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_scheduler_is_a_quick_clear_error(isolated, monkeypatch, capsys):
    monkeypatch.setenv("DEFECTBOOK_CONNECT_TIMEOUT", "3")
    monkeypatch.setattr(rp, "execute", lambda *a, **k: pytest.fail("a notebook ran"))
    monkeypatch.setattr(rp, "BuildReport", lambda *a, **k: pytest.fail("a build report was started"))
    address = f"tcp://127.0.0.1:{closed_port()}"
    t0 = time.perf_counter()
    code = cli_main(["reproduce", "--profile", "smoke", "--only", "padim/padim_end_to_end", "--scheduler", address])
    assert code == 2 and time.perf_counter() - t0 < 15
    err = error_line(capsys)
    assert f"cannot connect to the Dask scheduler at {address}" in err
    assert "DEFECTBOOK_CONNECT_TIMEOUT" in err and "--scheduler" in err
    assert not (isolated / "cache" / "logs").exists()     # no batch log either


def test_scheduler_address_and_timeout_are_checked(monkeypatch):
    from defectbook.pipeline import executors

    with pytest.raises(DefectbookError, match="address 'tcp://127.0.0.1:99999' is not valid.*tcp://HOST:PORT"):
        executors.client("tcp://127.0.0.1:99999")
    monkeypatch.setenv("DEFECTBOOK_CONNECT_TIMEOUT", "0")
    with pytest.raises(DefectbookError, match="DEFECTBOOK_CONNECT_TIMEOUT must be a number of seconds > 0"):
        executors.client(f"tcp://127.0.0.1:{closed_port()}")


# --- an archive left by an interrupted download -----------------------------------------------------

def mtd_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("repo/MT_Free/Imgs/a.jpg", b"x" * 5000)
        z.writestr("repo/MT_Blowhole/Imgs/b.jpg", b"y" * 5000)
    return buf.getvalue()


def test_a_truncated_download_is_deleted_not_kept(tmp_path, monkeypatch, capsys):
    from defectbook.data import fetch as F

    good = mtd_zip()
    monkeypatch.setattr(F, "_download", lambda url, dest: dest.write_bytes(good[: len(good) // 2]))
    with pytest.raises(DefectbookError, match="download of .*zip is unusable .*not a complete zip archive.*deleted"):
        F.fetch("mtd", tmp_path, allow_unverified=True)
    assert not any((tmp_path / ".downloads").iterdir())         # neither the archive nor its .part
    assert not (tmp_path / "mtd").exists()
    monkeypatch.setattr(F, "_download", lambda url, dest: dest.write_bytes(good))
    assert (F.fetch("mtd", tmp_path, allow_unverified=True) / "MT_Free" / "Imgs" / "a.jpg").is_file()


def test_a_bad_archive_from_an_earlier_run_is_deleted_and_fetched_again(tmp_path, monkeypatch, capsys):
    from defectbook.data import fetch as F

    good = mtd_zip()
    archive = tmp_path / ".downloads" / F.SOURCES["mtd"].archives[0].filename
    archive.parent.mkdir(parents=True)
    archive.write_bytes(good[:-100])                                 # cut short
    calls = []
    monkeypatch.setattr(F, "_download", lambda url, dest: calls.append(dest) or dest.write_bytes(good))
    F.fetch("mtd", tmp_path, keep_archive=True, allow_unverified=True)
    out = capsys.readouterr().out
    assert "deleted the archive left by an earlier download" in out and "not a complete zip archive" in out
    assert len(calls) == 1 and calls[0].name.endswith(".part")      # downloaded under a temporary name
    assert archive.read_bytes() == good and (tmp_path / "mtd" / "MT_Free" / "Imgs" / "a.jpg").is_file()
    F.fetch("mtd", tmp_path, keep_archive=True, allow_unverified=True)  # a sound archive is reused
    assert len(calls) == 1 and "reusing the archive" in capsys.readouterr().out


def test_an_archive_not_matching_its_pinned_checksum_is_deleted(tmp_path, monkeypatch):
    from defectbook.data import fetch as F

    archive = tmp_path / ".downloads" / F.SOURCES["mvtec"].archives[0].filename
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"partial")
    monkeypatch.setattr(F, "_download", lambda url, dest: dest.write_bytes(b"still wrong"))
    with pytest.raises(DefectbookError, match="unusable .*sha256 .* is not the pinned"):
        F.fetch("mvtec", tmp_path)
    assert not any((tmp_path / ".downloads").iterdir())


# --- the feature extractor's layers and weights -----------------------------------------------------

def test_empty_layers_is_refused_before_training(toy, isolated, capsys):
    assert evaluate(toy, "-p", "layers=[]") == 2
    err = error_line(capsys)
    assert "parameter layers must name one or more layers of backbone" in err and "got []" in err
    assert no_records(isolated)


def test_a_weights_path_that_is_no_weights_file_is_refused(toy, isolated, tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not a state dict")
    assert evaluate(toy, "-p", f"weights={text}") == 2
    err = error_line(capsys)
    assert f"weight file {text} for backbone" in err and "torch.load(weights_only=True)" in err
    assert "the parameter weights expects the state dict" in err
    assert no_records(isolated)


def test_weights_files_that_do_not_fit_name_the_file(tmp_path):
    from defectbook.components.backbones import FeatureExtractor, build_model

    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(DefectbookError, match=rf"weight file {wrong} does not match backbone 'resnet18': .*missing"):
        build_model("resnet18", wrong)
    with pytest.raises(DefectbookError, match=rf"weight file {wrong} does not match backbone 'efficientnet_lite0'"):
        build_model("efficientnet_lite0", wrong)
    listing = tmp_path / "list.pth"
    torch.save([1, 2], listing)
    with pytest.raises(DefectbookError, match=rf"weight file {listing} .*holds no state dict"):
        build_model("resnet18", listing)
    with pytest.raises(DefectbookError, match="parameter weights must be None .*'random' or the path"):
        FeatureExtractor("resnet18", ["layer1"], weights=3)
    with pytest.raises(DefectbookError, match="parameter layers must name one or more layers"):
        FeatureExtractor("resnet18", [], weights="random")


# --- notebook parameters of `defectbook reproduce` --------------------------------------------------

@pytest.mark.parametrize("param, message", [
    ("seeds=abc", "parameter seeds='abc' should be a list[int] as declared in padim/padim_end_to_end, got a str: "
                  "e.g. seeds=[0, 1]"),
    ("seeds=5", "parameter seeds=5 should be a list[int] as declared in padim/padim_end_to_end, got an int: "
                "write seeds=[5]"),
    ("categories=weave", "parameter categories='weave' should be a list[str] as declared in padim/padim_end_to_end, "
                         "got a str: write categories=[weave]"),
    ("seeds=[0, x]", "should be a list[int]"),
])
def test_reproduce_checks_notebook_parameter_types_before_running(isolated, monkeypatch, capsys, param, message):
    monkeypatch.setattr(rp, "execute", lambda *a, **k: pytest.fail("a notebook ran"))
    assert cli_main(["reproduce", "--profile", "smoke", "--only", "padim/padim_end_to_end", "-p", param]) == 2
    assert message in error_line(capsys)
    assert not (isolated / "cache" / "logs").exists()


def test_well_typed_notebook_parameters_pass(tmp_path):
    nbs = rp.discover("padim/padim_end_to_end")
    rp.check_notebook_params(nbs, rp.parse_params(["seeds=[0, 1]", "categories=[weave]", "seeds=null", "d=50"]))
    with pytest.raises(DefectbookError, match="unknown parameter 'no_such'"):
        rp.check_notebook_params(nbs, {"no_such": 1})
    nb = tmp_path / "g" / "x.py"
    nb.parent.mkdir()
    nb.write_text('# %% tags=["parameters"]\nshots: list[int] | None = None\nn_boot = 200\nnoise = None\n# %%\n')
    assert rp.notebook_parameter_types(nb) == {"shots": "list[int]", "n_boot": "int", "noise": None}
    rp.check_notebook_params([nb], {"shots": [1, 2], "n_boot": 10, "noise": "anything"})
    with pytest.raises(DefectbookError, match=r"shots=8 should be a list\[int\] as declared in g/x, .*shots=\[8\]"):
        rp.check_notebook_params([nb], {"shots": 8})
    with pytest.raises(DefectbookError, match="n_boot=2.5 should be an int"):
        rp.check_notebook_params([nb], {"n_boot": 2.5})


# --- --workers and --timeout ------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "--workers must be a whole number >= 1 or 'auto', got '0'"),
    (["--workers=-2"], "--workers must be a whole number >= 1 or 'auto', got '-2'"),
    (["--workers", "many"], "--workers must be a whole number >= 1 or 'auto', got 'many'"),
    (["--timeout", "0"], "--timeout must be a number of seconds >= 1 per cell, got 0"),
    (["--timeout=-5"], "--timeout must be a number of seconds >= 1 per cell, got -5"),
])
def test_reproduce_refuses_zero_or_negative_workers_and_timeout(isolated, monkeypatch, capsys, args, message):
    monkeypatch.setattr(rp, "reproduce", lambda *a, **k: pytest.fail("the batch started"))
    assert cli_main(["reproduce", "--profile", "smoke", *args]) == 2
    assert message in error_line(capsys)


def test_reproduce_accepts_auto_and_positive_workers(isolated, monkeypatch):
    seen = []
    monkeypatch.setattr(rp, "reproduce", lambda *a, **k: seen.append((k["workers"], k["timeout"])) or [])
    assert cli_main(["reproduce", "--profile", "smoke", "--workers", "auto"]) == 0
    assert cli_main(["reproduce", "--profile", "smoke", "--workers", "2", "--timeout", "60"]) == 0
    assert seen == [("auto", None), (2, 60)]


# --- a category given as a path ---------------------------------------------------------------------

@pytest.mark.parametrize("category", ["../outside", "mvtec/../../outside", "/etc", "."])
@pytest.mark.parametrize("dataset, label", [("mvtec", "MVTec"), ("folder", "folder")])
def test_a_category_outside_the_data_root_is_refused(toy, category, dataset, label):
    with pytest.raises(DefectbookError, match=rf"{label} category '{category}' is not a folder inside the data "
                                              rf"root {toy}: give the name of a category folder"):
        load_split(dataset, category, toy)


def test_a_category_path_on_the_command_line_is_exit_2(toy, isolated, capsys):
    outside = write_toy_mvtec(isolated / "other") / "mvtec" / "toy"
    rel = "../other/mvtec/toy"
    assert (toy / rel).resolve() == outside.resolve()               # it exists: only the check stops it
    code = cli_main(["evaluate", "--method", "padim", "--dataset", "mvtec", "--category", rel, "--profile", "smoke",
                     "--data-root", str(toy)])
    assert code == 2
    assert f"MVTec category '{rel}' is not a folder inside the data root {toy}" in error_line(capsys)
    assert no_records(isolated)


def test_dagm_classes_and_plain_names_still_load(toy):
    assert load_split("mvtec", "toy", toy).info["category"] == "toy"
    (toy / "dagm" / "Class1").mkdir(parents=True)
    with pytest.raises(DefectbookError, match="DAGM class must be a number or 'ClassN'"):
        load_split("dagm", "../Class1", toy)
