import numpy as np
import pytest
import torch
from PIL import Image

from defectbook import DefectbookError
from defectbook.components.backbones import (
    BACKBONES,
    FeatureExtractor,
    build_model,
    fold_batchnorm,
    resolve_weight_file,
)


def _imagenet_input(img: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.array(Image.fromarray(img).resize((224, 224)))).permute(2, 0, 1).float()[None] / 255
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (x - mean) / std


@pytest.mark.parametrize("photo, classes", [("chelsea", {285, 281, 282}), ("coffee", {967})])
def test_offline_weights_are_real_imagenet_weights(photo, classes):
    from skimage import data

    model = build_model("efficientnet_lite0")
    with torch.no_grad():
        top = model(_imagenet_input(getattr(data, photo)())).argmax(1).item()
    assert top in classes  # 285 Egyptian cat / tabby / tiger cat; 967 espresso


def test_random_weights_do_not_classify_the_cat():
    from skimage import data

    torch.manual_seed(0)
    model = build_model("efficientnet_lite0", weights="random")
    with torch.no_grad():
        p = model(_imagenet_input(data.chelsea())).softmax(1)
    assert p.max() < 0.2


def test_feature_shapes_and_strides():
    fe = FeatureExtractor("efficientnet_lite0", ["layer1", "layer2", "layer3", "layer4"])
    with torch.no_grad():
        maps = fe(torch.rand(2, 3, 64, 96))
    assert fe.channels == [24, 40, 112, 320] and fe.strides == [4, 8, 16, 32]
    for m, c, s in zip(maps, fe.channels, fe.strides):
        assert m.shape == (2, c, 64 // s, 96 // s)
    assert "efficientnet_lite0[imagenet]" in fe.describe()


def test_features_match_the_full_network_and_stop_early():
    fe = FeatureExtractor("efficientnet_lite0", ["blocks.2"])
    calls = []
    fe.model.conv_head.register_forward_hook(lambda *a: calls.append(1))
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        out = fe(x)[0]
        m = build_model("efficientnet_lite0")
        h = m.bn1(m.conv_stem((x - fe.mean) / fe.std))
        for i in range(3):
            h = m.blocks[i](h)
    assert torch.allclose(out, h, rtol=1e-4, atol=1e-4 * h.abs().max().item())  # folded batch-norms: float rounding
    assert not calls, "layers past the deepest requested one must not run"


@pytest.mark.parametrize("name", ["efficientnet_lite0", "resnet18", "wide_resnet50_2", "resnext50_32x4d"])
def test_folding_the_batch_norms_keeps_the_function(name):
    """timm's BatchNormAct2d (its activation kept) and torchvision's BatchNorm2d, with statistics and
    affine parameters far from the identity, so that a wrongly paired fold would show."""
    import copy

    g = torch.Generator().manual_seed(0)
    m = build_model(name, "random")
    for bn in (b for b in m.modules() if isinstance(b, torch.nn.BatchNorm2d)):
        for t, lo, hi in ((bn.running_mean, -0.5, 0.5), (bn.running_var, 0.3, 3.0), (bn.weight, 0.5, 1.5),
                          (bn.bias, -0.3, 0.3)):
            t.data.uniform_(lo, hi, generator=g)
    x = torch.rand(2, 3, 64, 64, generator=g)
    folded = fold_batchnorm(copy.deepcopy(m))
    assert not any(isinstance(b, torch.nn.BatchNorm2d) for b in folded.modules())
    with torch.no_grad():
        ref, out = m(x), folded(x)
    assert torch.allclose(out, ref, rtol=1e-4, atol=1e-4 * ref.abs().max().item())


def test_feature_maps_are_contiguous():
    fe = FeatureExtractor("efficientnet_lite0", ["layer1", "layer3"])
    with torch.no_grad():
        assert all(m.is_contiguous() for m in fe(torch.rand(2, 3, 64, 64)))


def test_input_gradients_flow():
    fe = FeatureExtractor("efficientnet_lite0", ["layer2"])
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    fe(x)[0].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in fe.parameters())


@pytest.mark.parametrize("name", [b for b in BACKBONES if b != "efficientnet_lite0"])
def test_missing_weights_is_a_clear_error(name, tmp_path, monkeypatch):
    monkeypatch.setenv("DEFECTBOOK_OFFLINE", "1")
    monkeypatch.setenv("DEFECTBOOK_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    with pytest.raises(DefectbookError, match=r"\.pth.*weights='random'"):
        resolve_weight_file(name)


def test_weights_resolve_from_the_weights_folder(tmp_path, monkeypatch):
    import torchvision

    sd = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(sd, tmp_path / "resnet18-f37072fd.pth")
    monkeypatch.setenv("DEFECTBOOK_WEIGHTS", str(tmp_path))
    assert resolve_weight_file("resnet18") == tmp_path / "resnet18-f37072fd.pth"
    fe = FeatureExtractor("resnet18", ["layer1", "layer3"])
    with torch.no_grad():
        assert [m.shape[1] for m in fe(torch.rand(1, 3, 64, 64))] == [64, 256]


@pytest.mark.parametrize("name", ["wide_resnet50_2", "alexnet", "vgg19"])
def test_random_paper_backbones_build(name):
    fe = FeatureExtractor(name, ["layer1", "layer2"], weights="random")
    with torch.no_grad():
        maps = fe(torch.rand(1, 3, 64, 64))
    assert [m.shape[1] for m in maps] == fe.channels


def test_bad_names():
    with pytest.raises(DefectbookError, match="unknown backbone 'resnet9000'"):
        FeatureExtractor("resnet9000")
    with pytest.raises(DefectbookError, match="has no layer 'layer9'"):
        FeatureExtractor("efficientnet_lite0", ["layer9"])
    with pytest.raises(DefectbookError, match="not found"):
        resolve_weight_file("resnet18", "/nonexistent/file.pth")
