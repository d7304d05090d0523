import pytest
import torch

from defectbook import DefectbookError
from defectbook.components.perceptual import SpatialPerceptualDistance, lpips_weight_file


def test_lpips_weights_ship_with_the_package():
    for net in ("alex", "vgg"):
        sd = torch.load(lpips_weight_file(net), map_location="cpu", weights_only=True)
        assert sd["lin0.model.1.weight"].shape[1] == 64


@pytest.fixture(scope="module")
def offline():
    return SpatialPerceptualDistance("offline")


def test_offline_fallback_is_labelled_and_spatial(offline):
    pd = offline
    assert "not LPIPS" in pd.label and "unit channel weights" in pd.label
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 64, 64, generator=g) * 0.2 + 0.4
    y = x.clone()
    y[:, :, 40:56, 40:56] = 1.0
    with torch.no_grad():
        same, diff = pd(x, x), pd(x, y)
    assert same.shape == (1, 64, 64) and same.abs().max() < 1e-6
    assert (diff >= 0).all()
    assert diff[0, 44:52, 44:52].mean() > 3 * diff[0, :16, :16].mean()


def test_auto_never_silently_falls_back(monkeypatch):
    monkeypatch.setenv("DEFECTBOOK_OFFLINE", "1")
    pd = SpatialPerceptualDistance("auto")
    if pd.net == "offline":
        assert pd.fallback_reason and "AlexNet" in pd.fallback_reason
        with pytest.raises(DefectbookError):
            SpatialPerceptualDistance("alex")
    else:
        assert pd.label.startswith("lpips-alex")


def test_bad_net_and_shapes(offline):
    with pytest.raises(DefectbookError):
        SpatialPerceptualDistance("resnet")
    pd = offline
    with pytest.raises(DefectbookError):
        pd(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 16))
