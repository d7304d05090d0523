"""`data check`, checksum verification (no downloads) and the `data` command group."""
import argparse
import hashlib

import numpy as np
import pytest
from PIL import Image

from defectbook import DefectbookError
from defectbook.data.check import check, check_root
from defectbook.data.commands import add_data_parser
from defectbook.data.fetch import SOURCES, verify
from defectbook.paths import file_sha256
from defectbook.pipeline.profiles import load


def save(path, a):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(a, dtype=np.uint8)).save(path)


def write_cat(root, name="toy"):
    rng = np.random.default_rng(0)
    for part, n in (("train/good", 3), ("test/good", 2), ("test/cut", 2)):
        for i in range(n):
            save(root / name / part / f"{i:03d}.png", rng.integers(0, 255, (24, 24)))
    for i in range(2):
        save(root / name / "ground_truth" / "cut" / f"{i:03d}_mask.png", np.zeros((24, 24)))
    return root


def parser():
    p = argparse.ArgumentParser(prog="defectbook")
    add_data_parser(p.add_subparsers(dest="command", required=True), load)
    return p


def test_check_reports_counts(tmp_path):
    write_cat(tmp_path / "mvtec")
    report, problems = check(tmp_path)
    assert not problems and report.endswith("OK")
    assert "toy: train 3, test 4 (2 good, 2 defective), masks 2" in report
    assert "toy: train 3" in check_root(tmp_path / "mvtec" / "toy")


def test_check_reports_problems(tmp_path):
    write_cat(tmp_path)
    (tmp_path / "toy" / "test" / "cut" / "001.png").write_bytes(b"garbage")
    save(tmp_path / "toy" / "ground_truth" / "cut" / "000_mask.png", np.zeros((10, 24)))
    report, problems = check(tmp_path)
    assert len(problems) == 2
    assert "unreadable image" in report and "mask" in report and "24x10" in report
    (tmp_path / "empty").mkdir()
    report, problems = check(tmp_path / "empty")
    assert "no datasets found" in report and len(problems) == 1
    with pytest.raises(DefectbookError, match="does not exist"):
        check_root(tmp_path / "nowhere")


def test_check_mtd_layout_error(tmp_path):
    (tmp_path / "mtd" / "MT_Free" / "Imgs").mkdir(parents=True)
    report, problems = check(tmp_path)
    assert problems and "MTD" in report


def test_verify_checksum(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"defectbook" * 1000)
    h = hashlib.sha256(f.read_bytes()).hexdigest()
    assert file_sha256(f) == h and verify(f, h) is True and verify(f, h.upper()) is True
    assert verify(f, None) is False  # unverified
    with pytest.raises(DefectbookError, match="checksum mismatch") as e:
        verify(f, "0" * 64)
    assert "\n" not in str(e.value)
    with pytest.raises(DefectbookError, match="not found"):
        verify(tmp_path / "nope", h)


def test_sources():
    assert set(SOURCES) == {"mtd", "mvtec", "dagm"}
    assert SOURCES["mvtec"].archives[0].sha256 and len(SOURCES["mvtec"].archives[0].sha256) == 64
    assert "abin24/Magnetic-tile-defect-datasets." in SOURCES["mtd"].archives[0].url
    assert len(SOURCES["dagm"].archives) == 10
    assert all(a.url.startswith("https://") for s in SOURCES.values() for a in s.archives)


def test_data_commands(tmp_path, capsys):
    p = parser()
    a = p.parse_args(["data", "synth", str(tmp_path / "syn"), "--size", "32", "--n-train", "1", "--n-test-good", "1",
                      "--n-test-defect", "1", "--categories", "wood"])
    assert a.func(a) == 0 and (tmp_path / "syn" / "wood" / "ground_truth" / "crack" / "000_mask.png").is_file()
    a = p.parse_args(["data", "check", str(tmp_path / "syn")])
    assert a.func(a) == 0
    assert "wood: train 1, test 4 (1 good, 3 defective), masks 3" in capsys.readouterr().out
    (tmp_path / "bad").mkdir()
    a = p.parse_args(["data", "check", str(tmp_path / "bad"), "--quick"])
    assert a.func(a) == 1
    a = p.parse_args(["data", "fetch", "mvtec", "--root", str(tmp_path)])
    assert callable(a.func) and a.name == "mvtec"
    with pytest.raises(SystemExit):
        p.parse_args(["data", "fetch", "imagenet"])
