import pytest

from defectbook import DefectbookError
from defectbook.pipeline import profiles


@pytest.mark.parametrize("name", profiles.PROFILES)
def test_every_profile_loads_with_data_settings(name):
    P = profiles.load(name)
    assert P["profile"] == name and "data" in P and "padim" in P
    assert P["padim"]["methods"]["padim"]["backbone"]


def test_cpu_profile_is_offline_and_paper_uses_paper_backbone():
    assert profiles.load("cpu")["padim"]["methods"]["padim"]["backbone"] == "efficientnet_lite0"
    assert profiles.load("paper")["padim"]["methods"]["padim"]["backbone"] == "wide_resnet50_2"
    assert profiles.load("paper")["padim"]["methods"]["padim"]["d"] == 550


def test_unknown_profile():
    with pytest.raises(DefectbookError, match="unknown profile 'fast'"):
        profiles.load("fast")
