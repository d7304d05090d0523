import pytest

from defectbook import DefectbookError
from defectbook.components.backbones import BACKBONES, DOWNLOADABLE
from defectbook.pipeline import profiles
from defectbook.pipeline.spec import backbone_channels


@pytest.mark.parametrize("name", profiles.PROFILES)
def test_every_profile_loads_with_data_settings(name):
    P = profiles.load(name)
    assert P["profile"] == name and "data" in P and "padim" in P
    assert P["padim"]["methods"]["padim"]["backbone"]


def _pretrained_backbones(node) -> set[str]:
    """Every backbone a profile names (``backbone`` keys at any depth) with ImageNet weights (not ``random``)."""
    if isinstance(node, dict):
        own = {node["backbone"]} if isinstance(node.get("backbone"), str) and node.get("weights") != "random" else set()
        return own | {b for v in node.values() for b in _pretrained_backbones(v)}
    if isinstance(node, list):
        return {b for v in node for b in _pretrained_backbones(v)}
    return set()


@pytest.mark.parametrize("name", ["smoke", "cpu"])
def test_smoke_and_cpu_profiles_need_no_weight_download(name):
    named = _pretrained_backbones(profiles.load(name))
    assert named and named <= set(BACKBONES) and not named & set(DOWNLOADABLE), named & set(DOWNLOADABLE)
    assert _pretrained_backbones(profiles.load("paper")) & set(DOWNLOADABLE), "the scan finds downloadable ones"


def test_paper_padim_uses_an_imagenet_backbone_and_selects_channels():
    p = profiles.load("paper")["padim"]["methods"]["padim"]
    assert p["backbone"] in DOWNLOADABLE
    assert 1 <= p["d"] < backbone_channels(p["backbone"], p["layers"])


def test_unknown_profile():
    with pytest.raises(DefectbookError, match="unknown profile 'fast'"):
        profiles.load("fast")
