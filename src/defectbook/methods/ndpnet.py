"""NDP-Net (normal reference attention and defective feature perception network; the fourth paper).

Parts (section numbers of the paper):

* **encoder** (III-B): 5 convolutional stages (two 3x3 conv + BN + ReLU each); stage 1 keeps the
  input resolution, stages 2-5 halve it, so layer ``l`` is ``[B, widths[l], S / 2^(l-1), ...]``
  (``AM_1`` of Eq. 11 is used at input size without up-sampling, hence a full-resolution layer 1).
  The paper gives no channel counts: ``widths`` is a parameter (default 32, 64, 128, 256, 256);
* **artificial defects** (Eq. 1): :class:`defectbook.data.artificial.ArtificialDefects`;
* **L_def_per** (Eq. 2): per encoder layer, the channel mean of ``(Phi(I_o) - Phi(I_ad))^2``,
  min-max normalised per image, against the mask resized (area) to the layer: mean squared error;
* **RBAM** (III-C) on layers 3-5: **RBFRM** (:func:`rbfrm`, Eqs. 3-5: non-overlapping ``K x K``
  patches of the fixed reference image's features, cosine similarity, softmax, weighted sum of
  reference patches) for ``K = 2`` and ``4``, fused with the input's features by the **FFM**
  (:class:`FFM`, Eqs. 6-8: sum, ``m x m`` conv to 64 channels, three ``m x m`` attention convs,
  softmax across the three branches at every element, ``m = 5``); **L_fea_rep** (Eq. 9);
* **decoder**: the mirror of the encoder fed with the (repaired) features of layers 3-5 (layer 5
  as input, 4 and 3 concatenated after up-sampling; no skip from layers 1-2);
* **MSDSM** (III-D): three heads on ``cat(Phi_l(I), Phi_l(recon))`` for layers 1-3, focal loss
  (Eq. 10, ``torchvision.ops.sigmoid_focal_loss``), ``AM = 0.2 AM1 + 0.2 g(AM2) + 0.6 g(AM3)``
  (Eq. 11), 5x5 mean filter; image score = the map's maximum (as the paper states);
* **two-phase training** (III-E): phase 1 trains encoder + decoder on ``100 L_rec + 1 L_per +
  1 L_def_per``; phase 2 freezes the encoder (parameters and batch-norm statistics) and trains
  RBAM + decoder + MSDSM on ``100 L_rec2 + 1 L_per2 + 1 L_fea_rep + 1 L_seg``. Adam, lr 1e-4,
  weight decay 1e-5. The perceptual loss uses VGG-16's ReLU outputs relu1_2 ... relu5_3 when its
  ImageNet weights resolve, else the offline EfficientNet-Lite0 layers 1-4 (labelled).

Table VI switches: ``def_per`` (False = without L_def_per), ``rbam`` (False = the decoder gets the
encoder's features unrepaired), ``segmentation`` (``msdsm``, ``pixel_gap`` = ``|I - recon|``,
``msfr`` = multi-scale feature residual of encoder layers 1-3, ``ssim`` = ``1 - SSIM`` from
``kornia.metrics.ssim``). Every map goes through the same 5x5 mean filter.

The reference image (``reference``): ``"random"`` = training image ``rng(seed).integers(N)``,
``"medoid"`` = the training image closest (L2, 32x32 thumbnails) to the mean training image, or an
index.
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import DefectbookError
from ..components.losses import feature_matching
from .autoencoders import ReconstructionDetector, check_divisible
from .base import Prediction, batches
from .registry import register

SEGMENTATIONS = ("msdsm", "pixel_gap", "msfr", "ssim")
PERCEPTUAL = {"vgg16": ("vgg16", ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"]),
              "offline": ("efficientnet_lite0", ["layer1", "layer2", "layer3", "layer4"])}
RBAM_LAYERS = (2, 3, 4)      # 0-based: encoder layers 3, 4, 5 (l1 = 3, l2 = 5)
SEG_LAYERS = (0, 1, 2)       # encoder layers 1-3 feed the MSDSM


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU(True),
                         nn.Conv2d(cout, cout, 3, 1, 1), nn.BatchNorm2d(cout), nn.ReLU(True))


class Encoder(nn.Module):
    """5 stages; ``forward(x [B, 3, S, S]) -> [F_1 .. F_5]`` with ``F_l [B, widths[l-1], S/2^(l-1), S/2^(l-1)]``."""

    def __init__(self, widths):
        super().__init__()
        chans = [3, *widths]
        self.stages = nn.ModuleList(
            _block(a, b, 1 if i == 0 else 2) for i, (a, b) in enumerate(zip(chans[:-1], chans[1:]))
        )

    def forward(self, x):
        out = []
        for s in self.stages:
            x = s(x)
            out.append(x)
        return out


class Decoder(nn.Module):
    """``forward([F_3, F_4, F_5]) -> recon [B, 3, S, S]`` in [-1, 1] (tanh): up-sample, concatenate
    the next (repaired) layer, two convs; then two more up-samplings to the input size."""

    def __init__(self, widths):
        super().__init__()
        w1, w2, w3, w4, w5 = widths
        self.up4, self.up3 = _block(w5 + w4, w4), _block(w4 + w3, w3)
        self.up2, self.up1 = _block(w3, w2), _block(w2, w1)
        self.out = nn.Conv2d(w1, 3, 3, 1, 1)

    def forward(self, feats):
        f3, f4, f5 = feats
        up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
        h = self.up4(torch.cat([up(f5), f4], 1))
        h = self.up3(torch.cat([up(h), f3], 1))
        h = self.up1(up(self.up2(up(h))))
        return torch.tanh(self.out(h))


def rbfrm(features: torch.Tensor, reference: torch.Tensor, k: int, scale: float = 1.0) -> torch.Tensor:
    """Reference-based feature repair (Eqs. 3-5).

    ``features [B, C, H, W]``, ``reference [1, C, H, W]`` (or ``[B, ...]``): both are cut into
    non-overlapping ``k x k`` patches (``k`` is capped at ``min(H, W)``); every input patch is
    replaced by ``sum_j softmax_j(scale * cos(p_i, b_j)) b_j`` over the reference patches ``b_j``.
    Returns the repaired map ``[B, C, H, W]``. ``scale = 1`` is Eq. 4 as printed.
    """
    b, c, h, w = features.shape
    k = int(min(k, h, w))
    if h % k or w % k:
        raise DefectbookError(f"RBFRM: feature map {h}x{w} is not divisible into {k}x{k} patches")
    if reference.shape[1:] != features.shape[1:]:
        raise DefectbookError(
            f"RBFRM: reference {tuple(reference.shape)} does not match features {tuple(features.shape)}"
        )
    p = F.unfold(features, k, stride=k).transpose(1, 2)                 # [B, N, C k k]
    r = F.unfold(reference, k, stride=k).transpose(1, 2)                # [1 or B, N, C k k]
    s = F.normalize(p, dim=-1, eps=1e-8) @ F.normalize(r, dim=-1, eps=1e-8).transpose(1, 2)   # [B, N, N_ref]
    out = torch.softmax(scale * s, -1) @ r                              # [B, N, C k k]
    return F.fold(out.transpose(1, 2), (h, w), k, stride=k)


class FFM(nn.Module):
    """Feature fusion (Eqs. 6-8; selective-kernel style).

    ``forward(branches)`` with ``branches`` a list of ``n`` maps ``[B, C, H, W]`` (``F_ad``,
    ``F_rep2``, ``F_rep4``) returns ``(F_out [B, C, H, W], weights [B, n, C, H, W])``; the weights
    sum to 1 over the branches at every element."""

    def __init__(self, channels: int, mid: int = 64, m: int = 5, n: int = 3):
        super().__init__()
        self.compress = nn.Sequential(nn.Conv2d(channels, mid, m, 1, m // 2), nn.BatchNorm2d(mid), nn.ReLU(True))
        self.attn = nn.ModuleList(nn.Conv2d(mid, channels, m, 1, m // 2) for _ in range(n))

    def forward(self, branches):
        z = self.compress(torch.stack(branches).sum(0))
        weights = torch.softmax(torch.stack([a(z) for a in self.attn], 1), 1)
        return (weights * torch.stack(branches, 1)).sum(1), weights


class RBAM(nn.Module):
    """RBFRM at patch sizes ``ks`` + FFM. ``forward(f [B,C,H,W], ref [1,C,H,W]) -> (out, aux)``
    with ``aux``: ``repaired`` (one map per K) and ``weights [B, 1 + len(ks), C, H, W]`` (branch 0 = ``f``)."""

    def __init__(self, channels: int, ks=(2, 4), mid: int = 64, m: int = 5, scale: float = 10.0):
        super().__init__()
        self.ks, self.scale = tuple(ks), float(scale)
        self.ffm = FFM(channels, mid, m, 1 + len(self.ks))

    def forward(self, f, ref):
        reps = [rbfrm(f, ref, k, self.scale) for k in self.ks]
        out, w = self.ffm([f, *reps])
        return out, {"repaired": reps, "weights": w}


class DSM(nn.Module):
    """One segmentation head: ``[B, 2C, h, w] -> logits [B, 1, h, w]``. The last bias starts at
    ``-log((1 - prior) / prior)`` (prior 0.01), the focal-loss paper's initialisation (Lin et al. 2017)."""

    def __init__(self, cin: int, width: int, prior: float = 0.01):
        super().__init__()
        self.net = nn.Sequential(_block(cin, width), nn.Conv2d(width, 1, 1))
        nn.init.constant_(self.net[-1].bias, -float(np.log((1 - prior) / prior)))

    def forward(self, x):
        return self.net(x)


def fuse_maps(maps, weights=(0.2, 0.2, 0.6), size=None, smooth: int = 5) -> torch.Tensor:
    """Eq. 11: ``sum_i w_i g(AM_i)`` with ``g`` bilinear up-sampling to ``size`` (default: the first
    map's size), then a ``smooth x smooth`` mean filter (0/1 = none). ``maps``: ``[B, 1, h_i, w_i]``
    -> ``[B, 1, H, W]``."""
    if len(maps) != len(weights):
        raise DefectbookError(f"{len(maps)} anomaly maps for {len(weights)} weights")
    size = size or maps[0].shape[-2:]
    out = sum(w * (m if m.shape[-2:] == tuple(size) else F.interpolate(m, size=size, mode="bilinear",
                                                                       align_corners=False))
              for w, m in zip(weights, maps))
    return mean_filter(out, smooth)


def mean_filter(m: torch.Tensor, k: int = 5) -> torch.Tensor:
    """``k x k`` mean filter of ``[B, 1, H, W]`` (border: mean over the pixels inside)."""
    if k <= 1:
        return m
    return F.avg_pool2d(m, k, 1, k // 2, count_include_pad=False)


class NDPNetModel(nn.Module):
    """Encoder, RBAMs (layers 3-5), decoder and MSDSM. ``phase`` (1 or 2) selects the forward pass;
    ``synth`` (callable ``x01 -> (I_ad, mask)``) makes artificial defects in training mode.

    ``forward(x [B, 3, S, S] in [-1, 1]) -> (recon [B, 3, S, S] in [-1, 1], aux)``."""

    def __init__(self, widths, seg_width: int = 32, ks=(2, 4), ffm_channels: int = 64, m: int = 5,
                 scale: float = 10.0, rbam: bool = True):
        super().__init__()
        self.encoder, self.decoder = Encoder(widths), Decoder(widths)
        self.use_rbam = rbam
        self.rbam = nn.ModuleList(RBAM(widths[l], ks, ffm_channels, m, scale) for l in RBAM_LAYERS)
        self.msdsm = nn.ModuleList(DSM(2 * widths[l], min(seg_width, 2 * widths[l])) for l in SEG_LAYERS)
        self.phase, self.synth = 1, None
        self.references: list[torch.Tensor] | None = None

    def train(self, mode: bool = True):
        super().train(mode)
        if self.phase == 2:
            self.encoder.eval()     # frozen: batch-norm statistics stay as phase 1 left them
        return self

    def repair(self, feats):
        """``[F_3, F_4, F_5] -> ([F_out_3..5], aux per layer)`` (identity when ``rbam`` is off)."""
        if not self.use_rbam:
            return list(feats), []
        if self.references is None:
            raise DefectbookError("NDP-Net: no reference features (phase 2 not started)")
        outs, auxes = [], []
        for mod, f, r in zip(self.rbam, feats, self.references):
            o, a = mod(f, r.to(f.dtype))
            outs.append(o)
            auxes.append(a)
        return outs, auxes

    def segment(self, fx, fr):
        """MSDSM logits ``[B, 1, h_l, w_l]`` for layers 1-3 from the features of the input and its reconstruction."""
        return [head(torch.cat([fx[l], fr[l]], 1)) for head, l in zip(self.msdsm, SEG_LAYERS)]

    def forward(self, x):
        x01 = (x + 1) / 2
        aux: dict = {}
        if self.phase == 1:
            fo = self.encoder(x01)
            aux["f_o"] = fo
            if self.training and self.synth is not None:
                i_ad, mask = self.synth(x01)
                aux.update(f_ad=self.encoder(i_ad), mask=mask, i_ad=i_ad)
            return self.decoder(fo[2:]), aux
        if self.training and self.synth is not None:
            i_ad, mask = self.synth(x01)
            with torch.no_grad():
                aux["f_o"] = self.encoder(x01)
        else:
            i_ad, mask = x01, None
        with torch.no_grad():
            f_ad = self.encoder(i_ad)
        f_out, rb = self.repair(f_ad[2:])
        recon = self.decoder(f_out)
        with torch.no_grad():
            f_rec = self.encoder((recon.detach() + 1) / 2)
        aux.update(i_ad=i_ad, mask=mask, f_ad=f_ad, f_out=f_out, f_rec=f_rec, rbam=rb,
                   logits=self.segment(f_ad, f_rec))
        return recon, aux


def choose_reference(images: torch.Tensor, rule, seed: int) -> int:
    """Index of the fixed reference image among ``images [N, 3, H, W]`` (see the module docstring)."""
    n = images.shape[0]
    if isinstance(rule, (int, np.integer)) and not isinstance(rule, bool):
        if not 0 <= rule < n:
            raise DefectbookError(f"reference index {rule} outside 0..{n - 1}")
        return int(rule)
    if rule == "random":
        return int(np.random.default_rng(seed).integers(n))
    if rule == "medoid":
        t = F.adaptive_avg_pool2d(images, 32).flatten(1)
        return int((t - t.mean(0)).pow(2).sum(1).argmin())
    raise DefectbookError(f"reference must be 'random', 'medoid' or an index, got {rule!r}")


@register("ndpnet", label="NDP-Net")
class NDPNet(ReconstructionDetector):
    """NDP-Net detector (see the module docstring).

    Architecture: ``widths`` (5 encoder widths), ``seg_width`` (MSDSM head width), ``ks`` (RBFRM
    patch sizes, (2, 4)), ``ffm_channels`` (64), ``m`` (5), ``attention_scale`` (softmax scale of
    Eq. 4; 1 = as printed). Training: ``epochs`` (phase 1, 400), ``epochs2`` (phase 2, 200),
    ``batch_size``, ``lr`` (1e-4), ``weight_decay`` (1e-5), loss weights ``w_rec`` (100), ``w_per``
    (1), ``w_def_per`` (1), ``w_fea_rep`` (1), ``w_seg`` (1). Defects: ``natural_images`` (None =
    scikit-image's), ``p_defect`` (0.5). ``perceptual``: ``auto`` (VGG-16 if its weights resolve,
    else offline), ``vgg16``, ``offline`` or None. Switches: ``def_per``, ``rbam``, ``segmentation``.
    Map: ``am_weights`` (0.2, 0.2, 0.6), ``smooth`` (5). ``reference``: ``random``/``medoid``/index.
    """

    name = "ndpnet"
    #: the frozen perceptual network is a training-only part: not saved (a saved NDP-Net is its own
    #: weights, a few MiB at cpu widths, so ``pipeline.run.run`` keeps it for the picture notebooks)
    _rebuilt = (*ReconstructionDetector._rebuilt, "feature_loss_")

    def __init__(self, widths=(32, 64, 128, 256, 256), seg_width: int = 64, ks=(2, 4), ffm_channels: int = 64,
                 m: int = 5, attention_scale: float = 10.0, epochs: int = 400, epochs2: int = 200,
                 batch_size: int = 8, lr: float = 1e-4, weight_decay: float = 1e-5, w_rec: float = 100.0,
                 w_per: float = 1.0, w_def_per: float = 1.0, w_fea_rep: float = 1.0, w_seg: float = 1.0,
                 natural_images: str | None = None, p_defect: float = 0.5, perceptual: str | None = "auto",
                 perceptual_weights: str | None = None, def_per: bool = True, rbam: bool = True,
                 segmentation: str = "msdsm", am_weights=(0.2, 0.2, 0.6), smooth: int = 5, reference="random",
                 focal_alpha: float = 0.25, focal_gamma: float = 2.0, **kw):
        widths = tuple(int(w) for w in widths)
        if len(widths) != 5 or min(widths) < 1:
            raise DefectbookError(f"widths must be 5 positive channel counts, got {widths}")
        if segmentation not in SEGMENTATIONS:
            raise DefectbookError(f"unknown segmentation {segmentation!r}; known: {', '.join(SEGMENTATIONS)}")
        if perceptual not in (None, "auto", *PERCEPTUAL):
            raise DefectbookError(f"unknown perceptual {perceptual!r}; known: None, auto, {', '.join(PERCEPTUAL)}")
        if int(epochs2) < 1:
            raise DefectbookError(f"epochs2 must be >= 1, got {epochs2}")
        if len(am_weights) != 3:
            raise DefectbookError(f"am_weights needs 3 weights, got {am_weights}")
        narrowest = min(2 * widths[lay] for lay in SEG_LAYERS)
        if int(seg_width) > narrowest:
            raise DefectbookError(f"ndpnet: seg_width={seg_width} exceeds {narrowest}, the input channels (2 x widths) "
                                  f"of the narrowest segmentation head, which is never wider than its input; "
                                  f"choose seg_width <= {narrowest}")
        kw.pop("distance", None)
        super().__init__(epochs=int(epochs) + int(epochs2), batch_size=batch_size, lr=lr, distance="mse", **kw)
        self.widths, self.seg_width, self.ks = widths, int(seg_width), tuple(int(k) for k in ks)
        self.ffm_channels, self.m, self.attention_scale = int(ffm_channels), int(m), float(attention_scale)
        self.epochs1, self.epochs2, self.weight_decay = int(epochs), int(epochs2), float(weight_decay)
        self.w = {"rec": w_rec, "per": w_per, "def_per": w_def_per if def_per else 0.0,
                  "fea_rep": w_fea_rep if rbam else 0.0, "seg": w_seg}
        self.natural_images, self.p_defect = natural_images, float(p_defect)
        self.perceptual, self.perceptual_weights = perceptual, perceptual_weights
        self.def_per, self.rbam, self.segmentation = bool(def_per), bool(rbam), segmentation
        self.am_weights, self.smooth, self.reference = tuple(float(a) for a in am_weights), int(smooth), reference
        self.focal_alpha, self.focal_gamma = float(focal_alpha), float(focal_gamma)

    # --- building -------------------------------------------------------------------------------------
    def _optimizer(self, params):
        return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)

    def _perceptual_net(self):
        from ..components.backbones import FeatureExtractor

        self.perceptual_fallback_ = None
        if self.perceptual is None or not self.w["per"]:
            return None
        if self.perceptual in ("auto", "vgg16"):
            try:
                return FeatureExtractor(*PERCEPTUAL["vgg16"], self.perceptual_weights)
            except (DefectbookError, OSError, RuntimeError) as e:
                if self.perceptual == "vgg16":
                    raise
                self.perceptual_fallback_ = f"VGG-16 unavailable ({str(e).splitlines()[0][:160]})"
        return FeatureExtractor(*PERCEPTUAL["offline"])

    def _generator(self, size):
        """The bare network (what a saved model is loaded into): no defect synthesis, no perceptual net."""
        check_divisible(size, 16, "NDP-Net (4 stride-2 encoder stages)")
        return NDPNetModel(self.widths, self.seg_width, self.ks, self.ffm_channels, self.m, self.attention_scale,
                           self.rbam)

    def _build(self, size):
        from ..data.artificial import ArtificialDefects

        model = self._generator(size)
        model.synth = ArtificialDefects(self.natural_images, seed=self.seed, p_defect=self.p_defect)
        fl = self._perceptual_net()
        self.feature_loss_ = fl.to(self.device_).eval() if fl is not None else None
        self.phase_seconds_ = {}
        self._t_phase = time.perf_counter()
        return model

    def _fit(self, images):
        self.reference_index_ = choose_reference(images, self.reference, self.seed)
        self.reference_image_ = images[self.reference_index_]
        super()._fit(images)
        if self.model_.phase == 1:          # max_steps stopped training inside phase 1
            self._start_phase2()
        self.model_.eval()

    def _epoch_end(self, epoch):
        if epoch + 1 == self.epochs1:
            self._start_phase2()
        if epoch + 1 == self.epochs:
            self.phase_seconds_["phase2"] = round(time.perf_counter() - self._t_phase, 3)

    def _start_phase2(self):
        """Freeze the encoder and compute the reference features of layers 3-5."""
        self.phase_seconds_["phase1"] = round(time.perf_counter() - self._t_phase, 3)
        self._t_phase = time.perf_counter()
        self._enter_phase2()

    def _loaded(self):
        """A loaded model is a trained one: phase 2, with the reference features recomputed (the frozen
        encoder's weights and the reference image are part of the stored state)."""
        self._enter_phase2()
        self.model_.eval()

    def _enter_phase2(self):
        mdl = self.model_
        mdl.phase = 2
        mdl.encoder.requires_grad_(False)
        mdl.encoder.eval()
        with torch.no_grad():
            feats = mdl.encoder(self.reference_image_[None].to(self.device_))
        mdl.references = [feats[l] for l in RBAM_LAYERS]
        mdl.train(mdl.training)

    # --- losses ---------------------------------------------------------------------------------------
    def _per(self, x, recon):
        if self.feature_loss_ is None:
            return None
        a, b = self.feature_loss_(x), self.feature_loss_(recon)
        return feature_matching(a, b, [1 / len(a)] * len(a))

    def _loss(self, x, recon, aux):
        W, parts = self.w, {}
        total = x.new_zeros(())

        def add(name, value):
            nonlocal total
            if value is not None and W[name]:
                total = total + W[name] * value
                parts[name] = value.item()

        add("rec", F.mse_loss(recon, x))
        add("per", self._per(x, recon))
        if self.model_.phase == 1:
            if W["def_per"]:
                add("def_per", def_per_loss(aux["f_o"], aux["f_ad"], aux["mask"]))
            return total, parts
        if W["fea_rep"]:
            add("fea_rep", sum(F.mse_loss(o, t) for o, t in zip(aux["f_out"], aux["f_o"][2:])) / len(aux["f_out"]))
        add("seg", seg_loss(aux["logits"], aux["mask"], self.focal_alpha, self.focal_gamma))
        return total, parts

    # --- inference ------------------------------------------------------------------------------------
    @torch.no_grad()
    def analyse(self, images: torch.Tensor, maps=SEGMENTATIONS) -> dict:
        """Everything of the test pass for ``images [N, 3, S, S]`` in [0, 1], on the CPU:
        ``recon [N, 3, S, S]``, ``am1``, ``am2``, ``am3`` (up-sampled, before fusion) and the maps of
        every segmentation ``msdsm`` (Eq. 11 fused and filtered), ``pixel_gap``, ``msfr``, ``ssim``
        (each ``[N, S, S]``, 5x5 mean filtered); ``maps`` limits the segmentations computed."""
        if not getattr(self, "fitted_", False):
            raise DefectbookError("ndpnet: call fit() before analyse()")
        import kornia

        self.model_.eval()
        out: dict[str, list] = {}
        for xb in batches(images, self.batch_size):
            x = xb.to(self.device_)
            recon, aux = self.model_(x * 2 - 1)
            r01 = ((recon + 1) / 2).clamp(0, 1)
            size = x.shape[-2:]
            probs = [torch.sigmoid(lg) for lg in aux["logits"]]
            ups = [F.interpolate(p, size=size, mode="bilinear", align_corners=False) for p in probs]
            res = {"recon": r01, "am1": ups[0][:, 0], "am2": ups[1][:, 0], "am3": ups[2][:, 0],
                   "msdsm": fuse_maps(probs, self.am_weights, size, self.smooth)[:, 0]}
            if "pixel_gap" in maps:
                res["pixel_gap"] = mean_filter((x - r01).abs().mean(1, keepdim=True), self.smooth)[:, 0]
            if "msfr" in maps:
                msfr = sum(F.interpolate((aux["f_ad"][l] - aux["f_rec"][l]).pow(2).mean(1, keepdim=True), size=size,
                                         mode="bilinear", align_corners=False) for l in SEG_LAYERS) / len(SEG_LAYERS)
                res["msfr"] = mean_filter(msfr, self.smooth)[:, 0]
            if "ssim" in maps:
                ssim = kornia.metrics.ssim(x, r01, 11).mean(1, keepdim=True)
                res["ssim"] = mean_filter(1 - ssim, self.smooth)[:, 0]
            for k, v in res.items():
                out.setdefault(k, []).append(v.float().cpu())
        return {k: torch.cat(v) for k, v in out.items()}

    def _predict(self, images):
        a = self.analyse(images, (self.segmentation,))
        maps = a[self.segmentation]
        flat = maps.flatten(1)
        self.last_scores_ = {"max": flat.amax(1).tolist(), "mean": flat.mean(1).tolist()}
        self.last_scores_mse_ = {}
        return Prediction(np.array(self.last_scores_["max"]), maps.numpy())

    @torch.no_grad()
    def encoder_features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The 5 encoder maps ``F_l [N, C_l, h_l, w_l]`` of ``images`` (CPU)."""
        self.model_.eval()
        outs = [self.model_.encoder(x.to(self.device_)) for x in batches(images, self.batch_size)]
        return [torch.cat([o[i] for o in outs]).cpu() for i in range(5)]

    @torch.no_grad()
    def rbam_details(self, images: torch.Tensor) -> list[dict]:
        """Per RBAM layer (3, 4, 5): ``f_ad``, ``reference``, ``repaired`` (one map per K), ``f_out``
        and the FFM ``weights [N, 3, C, h, w]`` for ``images`` (CPU; one batch)."""
        self.model_.eval()
        feats = self.model_.encoder(images.to(self.device_))
        outs, aux = self.model_.repair(feats[2:])
        res = []
        for i, l in enumerate(RBAM_LAYERS):
            d = {"layer": l + 1, "f_ad": feats[l].cpu(), "reference": self.model_.references[i].cpu(),
                 "f_out": outs[i].cpu()}
            if aux:
                d |= {"repaired": [r.cpu() for r in aux[i]["repaired"]], "weights": aux[i]["weights"].cpu()}
            res.append(d)
        return res

    @property
    def reference_image(self) -> torch.Tensor:
        """The fixed reference image ``[3, S, S]``."""
        return self.reference_image_

    def extras(self) -> dict:
        out = super().extras()
        out.pop("mse_scores_by_pooling", None)
        out["distance"] = self.segmentation
        out["switches"] = {"def_per": self.def_per, "rbam": self.rbam, "segmentation": self.segmentation}
        out["reference_index"] = getattr(self, "reference_index_", None)
        size = getattr(self, "size_", None)
        if size is not None and self.rbam:
            # RBFRM's patch side is at most the feature map's (encoder layer l is S / 2^(l-1))
            ran = {f"layer{lay + 1}": [min(k, size[0] >> lay, size[1] >> lay) for k in self.ks] for lay in RBAM_LAYERS}
            capped = {name: ks for name, ks in ran.items() if ks != list(self.ks)}
            if capped:
                out["effective_params"] = {"ks": capped}
        out["phase_seconds"] = getattr(self, "phase_seconds_", {})
        fl = getattr(self, "feature_loss_", None)
        out["perceptual"] = fl.describe() if fl is not None else None
        if getattr(self, "perceptual_fallback_", None):
            out["perceptual_fallback"] = self.perceptual_fallback_
        return out


def def_per_loss(f_o, f_ad, mask) -> torch.Tensor:
    """Eq. 2: ``1/L sum_l || N(mean_c (F_l(I_o) - F_l(I_ad))^2) - resize(I_m, l) ||^2`` (mean over pixels
    and images). ``f_o, f_ad``: lists of ``[B, C_l, h_l, w_l]``; ``mask [B, 1, H, W]``. ``N``: per-image
    min-max normalisation (a zero difference stays 0)."""
    total = mask.new_zeros(())
    for a, b in zip(f_o, f_ad):
        d = (a - b).pow(2).mean(1, keepdim=True)
        lo = d.flatten(1).amin(1).view(-1, 1, 1, 1)
        hi = d.flatten(1).amax(1).view(-1, 1, 1, 1)
        n = (d - lo) / (hi - lo + 1e-8)
        m = F.interpolate(mask, size=d.shape[-2:], mode="area")
        total = total + (n - m).pow(2).mean()
    return total / len(f_o)


def seg_loss(logits, mask, alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """Eq. 10: mean over the three heads of the focal loss (``torchvision.ops.sigmoid_focal_loss``,
    mean reduction) against the mask resized (area) to each head's resolution."""
    from torchvision.ops import sigmoid_focal_loss

    return sum(sigmoid_focal_loss(lg, F.interpolate(mask, size=lg.shape[-2:], mode="area"), alpha, gamma, "mean")
               for lg in logits) / len(logits)


# --- Table VI switches and method kinds (used by the chapter's notebooks; configs: defectbook.pipeline.spec) ---

#: Table VI columns: label -> NDP-Net parameter switches
ABLATIONS = {"A: NDP-Net": {}, "B: w/o RBAM": {"rbam": False}, "C: w/o L_def_per": {"def_per": False},
             "D: pixel gap": {"segmentation": "pixel_gap"}, "E: MSFR": {"segmentation": "msfr"},
             "F: SSIM": {"segmentation": "ssim"}}
RECONSTRUCTION = ("ndpnet", "trustmae", "memae", "ae_l2", "ae_ssim")
