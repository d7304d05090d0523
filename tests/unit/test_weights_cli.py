"""The weights registry and ``defectbook weights``: offline, against a fake cache folder."""
from pathlib import Path

import pytest
import torch

from defectbook import DefectbookError
from defectbook.cli import main
from defectbook.components import backbones

PAPER = ["wide_resnet50_2", "wide_resnet101_2", "resnext50_32x4d", "resnext101_32x8d", "resnet18", "alexnet",
         "vgg16", "vgg19"]


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.delenv("DEFECTBOOK_WEIGHTS", raising=False)
    monkeypatch.setenv("DEFECTBOOK_OFFLINE", "1")
    return tmp_path / "hub" / "checkpoints"


def test_the_papers_backbones_have_torchvisions_file_names():
    import torchvision

    for name in PAPER:
        spec = backbones.SPECS[name]
        assert spec.url == torchvision.models.get_weight(spec.enum).url
        assert spec.url.endswith("/" + spec.weight_file)
    assert set(PAPER) == set(backbones.DOWNLOADABLE)


def test_list_and_resolve_against_a_fake_cache(fake_hub, capsys, tmp_path, monkeypatch):
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    for name in PAPER:
        line = next(l for l in out.splitlines() if l.startswith(name + " "))
        assert "ABSENT" in line and backbones.SPECS[name].weight_file in line and str(fake_hub) in line
    assert "efficientnet_lite0" in out and "defectbook weights fetch" in out
    with pytest.raises(DefectbookError, match="wide_resnet101_2-32ee1156.pth.*" + str(fake_hub)):
        backbones.resolve_weight_file("wide_resnet101_2")
    fake_hub.mkdir(parents=True)
    (fake_hub / "wide_resnet101_2-32ee1156.pth").write_bytes(b"fake")
    assert backbones.resolve_weight_file("wide_resnet101_2") == fake_hub / "wide_resnet101_2-32ee1156.pth"
    main(["weights", "list"])
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("wide_resnet101_2 "))
    assert "present" in line
    own = tmp_path / "own"                               # DEFECTBOOK_WEIGHTS comes first
    own.mkdir()
    (own / "wide_resnet101_2-32ee1156.pth").write_bytes(b"fake")
    monkeypatch.setenv("DEFECTBOOK_WEIGHTS", str(own))
    assert backbones.resolve_weight_file("wide_resnet101_2") == own / "wide_resnet101_2-32ee1156.pth"


def test_fetch_uses_the_hash_checked_download(fake_hub, monkeypatch, capsys):
    calls = []

    def fake_download(url, model_dir=None, map_location=None, progress=True, check_hash=False, file_name=None):
        calls.append((url, check_hash, file_name))
        Path(model_dir, file_name).write_bytes(b"fake weights")
        return {}

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake_download)
    assert main(["weights", "fetch", "resnext50_32x4d", "vgg19"]) == 0
    assert [c[2] for c in calls] == ["resnext50_32x4d-7cdf4587.pth", "vgg19-dcbb9e9d.pth"]
    assert all(c[1] for c in calls) and calls[0][0] == backbones.SPECS["resnext50_32x4d"].url
    assert (fake_hub / "vgg19-dcbb9e9d.pth").is_file()
    assert "present" in capsys.readouterr().out
    main(["weights", "fetch", "vgg19"])                  # present: no second download
    assert len(calls) == 2
    assert main(["weights", "fetch", "efficientnet_lite0"]) == 2
    assert main(["weights", "fetch", "nonet"]) == 2
