"""TrustMAE (Tan et al., 2020): a memory-augmented auto-encoder with sparse addressing and trust
region memory updates, scored with a spatial perceptual distance.

Generator (supplementary Table 1, ``width`` = 32 and ``latent`` = 512 in the paper): a 7x7 conv,
``n_down`` stride-2 convs (5; 3 for grid, screw, pill, capsule), three residual blocks -> latent
map ``Z [B, latent, H/2^n_down, W/2^n_down]``; every ``z_i`` is replaced by ``w M`` read from the
memory ``M [slots, latent]`` (64 slots); three residual blocks, ``n_down`` transposed convs, a 7x7
conv and tanh. The paper's "CBN" (conditional batch norm) names no condition: we use plain
batch norm.

Memory (Eqs. 1-6): ``w = softmax(-||z - M_i||)``; sparse addressing keeps the ``k`` (3) largest
weights and renormalises; margin loss ``[d(1) - d(2) + 1]_+``; trust-region loss
``r(z, M(1)) * d(1)`` with ``r = 1`` inside ``delta_1``, ``-1`` between ``delta_1`` and
``delta_2`` (20) and 0 beyond; ``delta_1`` per slot = the mean distance of the batch's features
whose nearest slot it is. ``trust_update="memory"`` (default) lets the trust loss move the memory
slots only (the latents enter it detached); ``"both"`` is Eq. 6 with gradients to the encoder too,
which at ``cpu`` scale collapses the model to one flat reconstruction (book/reproducibility/trustmae.md).

Loss (supp. Eq. 9): ``10 L1 + 10 SSIM + 10 feature (VGG-19 conv1_2..conv5_4, weights
1/32..1) + 1 hinge GAN + 10 GAN feature + 0.1 margin + 1 trust``; discriminator of
supplementary Table 2 (6 stride-2 4x4 convs, LeakyReLU 0.2, 3x3 conv to one logit map).
Score map: squared error x spatial perceptual distance, pooled by max or mean.

Ablation switches: ``sparse`` (SP), ``trust_region`` (TR), ``perceptual`` (PD: ``False`` scores
with the squared error only).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import DefectbookError
from ..components.backbones import FeatureExtractor
from ..components.losses import feature_matching, hinge_d_loss, hinge_g_loss, ssim_loss
from .autoencoders import ReconstructionDetector, check_divisible
from .base import check_params
from .registry import register

#: The feature loss networks: (backbone, layers, layer weights).
FEATURE_NETS = {
    "vgg19": ("vgg19", ["relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4"], [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0]),
    "offline": ("efficientnet_lite0", ["layer1", "layer2", "layer3", "layer4"], [1 / 8, 1 / 4, 1 / 2, 1.0]),
}


#: What the trust-region loss updates: the memory slots only, or the slots and the encoder.
TRUST_UPDATES = ("memory", "both")


class Memory(nn.Module):
    """Memory ``M [slots, dim]`` with soft addressing by negative Euclidean distance.

    ``forward(z [B, dim, h, w]) -> (z_hat [B, dim, h, w], aux)`` with ``aux``: ``dist [N, slots]``
    (N = B*h*w), ``weights [N, slots]`` (rows sum to 1; ``k`` non-zeros when ``k`` is set) and
    ``nearest [N]``. ``k=None``: dense softmax addressing (the "w/o SP" ablation).
    """

    def __init__(self, slots: int = 64, dim: int = 512, k: int | None = 3, init_scale: float = 1.0):
        super().__init__()
        if k is not None and not 1 <= k <= slots:
            raise DefectbookError(f"top-k must be in [1, {slots}], got {k}")
        self.slots, self.dim, self.k = slots, dim, k
        self.weight = nn.Parameter(torch.rand(slots, dim) * init_scale)

    def address(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(weights [N, slots], dist [N, slots])`` for latent vectors ``flat [N, dim]`` (Eqs. 2-3)."""
        dist = torch.cdist(flat, self.weight)
        w = torch.softmax(-dist, dim=1)
        if self.k is not None and self.k < self.slots:
            top = w.topk(self.k, dim=1)
            w = torch.zeros_like(w).scatter(1, top.indices, top.values)
            w = w / w.sum(1, keepdim=True).clamp_min(1e-12)
        return w, dist

    def forward(self, z: torch.Tensor):
        b, c, h, wd = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, c)
        w, dist = self.address(flat)
        out = (w @ self.weight).view(b, h, wd, c).permute(0, 3, 1, 2)
        return out, {"dist": dist, "weights": w, "nearest": dist.argmin(1), "z": flat}


def margin_loss(dist: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Eq. 4: mean of ``[d(1) - d(2) + margin]_+`` over the rows of ``dist [N, slots]``."""
    two = dist.topk(2, dim=1, largest=False).values
    return F.relu(two[:, 0] - two[:, 1] + margin).mean()


def trust_region(dist: torch.Tensor, delta2: float = 20.0, delta1: float | None = None):
    """Eqs. 5-6. ``dist [N, slots]`` -> ``(loss, r [N], delta1 [slots])``.

    ``r = 1`` where the nearest-slot distance ``d`` is within ``delta_1`` of its slot, ``-1``
    where ``delta_1 < d <= delta_2``, 0 beyond. ``delta1=None``: adaptive, per slot the mean ``d``
    of the rows whose nearest slot it is (slots nobody picks get +inf: unused). Loss = mean ``r d``.
    """
    d, idx = dist.min(1)
    if delta1 is None:
        s = dist.shape[1]
        sums = torch.zeros(s, dtype=d.dtype, device=d.device).index_add(0, idx, d.detach())
        counts = torch.zeros(s, dtype=d.dtype, device=d.device).index_add(0, idx, torch.ones_like(d))
        d1 = torch.where(counts > 0, sums / counts.clamp_min(1), torch.full_like(sums, math.inf))
    else:
        d1 = torch.full((dist.shape[1],), float(delta1), dtype=d.dtype, device=d.device)
    thr = d1[idx]
    r = torch.where(d <= thr, torch.ones_like(d), torch.where(d <= delta2, -torch.ones_like(d), torch.zeros_like(d)))
    return (r * d).mean(), r, d1


def _bn(c: int) -> nn.Module:
    return nn.BatchNorm2d(c)   # the paper's "CBN": no condition is named, so plain batch norm


class ResBlock(nn.Module):
    """``relu(x + BN(conv3x3(x)))``, shape-preserving ``[B, C, h, w]``."""

    def __init__(self, c: int):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(c, c, 3, 1, 1), _bn(c)

    def forward(self, x):
        return F.relu(x + self.bn(self.conv(x)))


def _channels(width: int, latent: int, n_down: int) -> list[int]:
    """Encoder channels after the stem and each down-sampling: paper (32, 512, 5) -> 32,64,128,256,512,512."""
    ch = [width] + [min(width * 2 ** (i + 1), latent) for i in range(n_down)]
    ch[-1] = latent
    return ch


class TrustMAEGenerator(nn.Module):
    """Encoder - memory - decoder of supplementary Table 1.

    ``forward(x [B, 3, H, W] in [-1, 1]) -> (recon [B, 3, H, W] in [-1, 1], aux)``; ``aux`` holds
    the memory's ``dist``, ``weights``, ``nearest`` and the latent vectors ``z [N, latent]``.
    """

    def __init__(self, width: int = 32, latent: int = 512, n_down: int = 5, slots: int = 64, k: int | None = 3,
                 n_res: int = 3):
        super().__init__()
        ch = _channels(width, latent, n_down)
        enc = [nn.Conv2d(3, width, 7, 1, 3), _bn(width), nn.ReLU(True)]
        for a, b in zip(ch[:-1], ch[1:]):
            enc += [nn.Conv2d(a, b, 3, 2, 1), _bn(b), nn.ReLU(True)]
        enc += [ResBlock(latent) for _ in range(n_res)]
        self.encoder = nn.Sequential(*enc)
        self.memory = Memory(slots, latent, k)
        dec = [ResBlock(latent) for _ in range(n_res)]
        rev = ch[::-1]
        for i, (a, b) in enumerate(zip(rev[:-1], rev[1:])):
            last = i == len(rev) - 2
            dec += [nn.ConvTranspose2d(a, b, 4, 2, 1), nn.InstanceNorm2d(b) if last else _bn(b), nn.ReLU(True)]
        dec += [nn.Conv2d(width, 3, 7, 1, 3), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: torch.Tensor):
        z = self.encoder(x)
        z_hat, aux = self.memory(z)
        return self.decoder(z_hat), aux


class Discriminator(nn.Module):
    """Supplementary Table 2: ``n_layers`` (6) stride-2 4x4 convs with LeakyReLU(0.2), channels
    ``width * 2^i`` (32..1024), then a 3x3 conv to one logit map. ``forward(x [B,3,H,W] in [-1,1])``
    returns ``(logits [B, 1, H/2^n, W/2^n], features)`` with the ``n_layers`` intermediate maps."""

    def __init__(self, width: int = 32, n_layers: int = 6):
        super().__init__()
        self.blocks = nn.ModuleList()
        cin = 3
        for i in range(n_layers):
            c = width * 2 ** i
            self.blocks.append(nn.Sequential(nn.Conv2d(cin, c, 4, 2, 1), nn.LeakyReLU(0.2, True)))
            cin = c
        self.head = nn.Conv2d(cin, 1, 3, 1, 1)

    def forward(self, x):
        feats = []
        for b in self.blocks:
            x = b(x)
            feats.append(x)
        return self.head(x), feats


@register("trustmae", label="TrustMAE", record_version=2)
class TrustMAE(ReconstructionDetector):
    """TrustMAE detector.

    Architecture: ``width`` (32), ``latent`` Z (512), ``n_down`` (5, or 3 for small-detail
    categories), ``slots`` M (64), ``k`` (3). Switches: ``sparse`` (top-k addressing; off =
    dense softmax), ``trust_region`` (off = no trust loss), ``perceptual`` (score map
    MSE x PD; off = MSE). Trust region: ``delta1`` (None = adaptive per slot), ``delta2`` (20).
    Loss weights ``lambda_*`` as in supp. Eq. 9; ``lambda_gan = lambda_feat = 0`` drops the
    discriminator. ``feature_net``: ``"vgg19"`` (paper; its ImageNet weights must resolve),
    ``"offline"`` (EfficientNet-Lite0 layers 1-4, weights 1/8..1) or None (no feature loss).
    ``disc_width`` / ``disc_layers`` size the discriminator (32 / 6; layers are capped so its last
    map is at least 2x2). ``trust_update``: what the trust loss (Eq. 6) moves: ``"memory"``
    (default; the latents are detached, so only the slots are pulled / pushed) or ``"both"`` (the
    encoder too, the loss's plain gradient; it collapses the model at ``cpu`` scale). Training:
    ``epochs`` (100), ``batch_size`` (16), ``lr`` 1e-4, ``lr_disc`` 4e-4, ``augment``; see
    :class:`~.autoencoders.ReconstructionDetector`.
    """

    name = "trustmae"

    def __init__(self, width: int = 32, latent: int = 512, n_down: int = 5, slots: int = 64, k: int = 3,
                 sparse: bool = True, trust_region: bool = True, perceptual: bool = True,
                 delta1: float | None = None, delta2: float = 20.0, margin: float = 1.0,
                 lambda_rec: float = 10.0, lambda_ssim: float = 10.0, lambda_vgg: float = 10.0,
                 lambda_gan: float = 1.0, lambda_feat: float = 10.0, lambda_margin: float = 0.1,
                 lambda_trust: float = 1.0, feature_net: str | None = "vgg19", feature_weights: str | None = None,
                 disc_width: int = 32, disc_layers: int = 6, trust_update: str = "memory", epochs: int = 100,
                 distance: str | None = None, **kw):
        check_params("trustmae", width=(width, "int>=1"), latent=(latent, "int>=1"), n_down=(n_down, "int>=1"),
                     slots=(slots, "int>=1"), k=(k, "int>=1"), delta1=(delta1, "float>0?"), delta2=(delta2, "float>=0"),
                     margin=(margin, "float>=0"), lambda_rec=(lambda_rec, "float>=0"),
                     lambda_ssim=(lambda_ssim, "float>=0"),
                     lambda_vgg=(lambda_vgg, "float>=0"), lambda_gan=(lambda_gan, "float>=0"),
                     lambda_feat=(lambda_feat, "float>=0"), lambda_margin=(lambda_margin, "float>=0"),
                     lambda_trust=(lambda_trust, "float>=0"), disc_width=(disc_width, "int>=1"),
                     disc_layers=(disc_layers, "int>=1"))
        if k > slots:
            raise DefectbookError(f"trustmae: parameter k must be in [1, slots={slots}], got {k}")
        if trust_update not in TRUST_UPDATES:
            raise DefectbookError(
                f"trustmae: trust_update must be one of {', '.join(TRUST_UPDATES)}, got {trust_update!r}"
            )
        if feature_net not in (None, *FEATURE_NETS):
            raise DefectbookError(f"unknown feature_net {feature_net!r}; known: None, {', '.join(FEATURE_NETS)}")
        if n_down < 1:
            raise DefectbookError(f"n_down must be >= 1, got {n_down}")
        super().__init__(epochs=epochs, distance=distance or ("mse*pd" if perceptual else "mse"), **kw)
        self.width, self.latent, self.n_down, self.slots, self.k = (
            int(width),
            int(latent),
            int(n_down),
            int(slots),
            int(k),
        )
        self.sparse, self.trust_region, self.perceptual = sparse, trust_region, perceptual
        self.delta1, self.delta2, self.margin = delta1, float(delta2), float(margin)
        self.lambdas = {"rec": lambda_rec, "ssim": lambda_ssim, "vgg": lambda_vgg, "gan": lambda_gan,
                        "feat": lambda_feat, "margin": lambda_margin, "trust": lambda_trust if trust_region else 0.0}
        self.feature_net, self.feature_weights = feature_net, feature_weights
        self.disc_width, self.disc_layers = int(disc_width), int(disc_layers)
        self.trust_update = trust_update
        self.has_discriminator = bool(lambda_gan or lambda_feat)

    _rebuilt = ReconstructionDetector._rebuilt + ("feature_loss_", "disc_", "opt_d_")

    def _generator(self, size):
        check_divisible(size, 2 ** self.n_down, f"TrustMAE with {self.n_down} down-samplings")
        return TrustMAEGenerator(self.width, self.latent, self.n_down, self.slots, self.k if self.sparse else None)

    def _build(self, size):
        model = self._generator(size)
        self.feature_loss_ = None
        if self.feature_net and self.lambdas["vgg"]:
            name, layers, w = FEATURE_NETS[self.feature_net]
            self.feature_loss_ = FeatureExtractor(name, layers, self.feature_weights).to(self.device_).eval()
            self.feature_layer_weights_ = w
        if self.has_discriminator:
            self.disc_ = Discriminator(self.disc_width, self._disc_layers(size)).to(self.device_)
            self.opt_d_ = torch.optim.Adam(self.disc_.parameters(), lr=self.lr_disc, betas=(0.5, 0.999))
        self.trust_log_: dict[str, list[float]] = {}
        return model

    def _disc_layers(self, size) -> int:
        """Discriminator depth for images of ``size``: ``disc_layers``, at most ``log2(min side) - 1``
        (a stride-2 layer more would leave no pixel)."""
        return max(1, min(self.disc_layers, int(math.log2(min(size))) - 1))

    def _disc_step(self, x01, recon01):
        real, _ = self.disc_(x01 * 2 - 1)
        fake, _ = self.disc_(recon01 * 2 - 1)
        loss = hinge_d_loss(real, fake)
        self.opt_d_.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d_.step()
        return {"disc": loss.item()}

    def _loss(self, x, recon, aux):
        L, parts = self.lambdas, {}
        total = x.new_zeros(())

        def add(name, value):
            nonlocal total
            total = total + L[name] * value
            parts[name] = value.item()

        add("rec", (x - recon).abs().mean())
        if L["ssim"]:
            add("ssim", ssim_loss(recon, x))
        if self.feature_loss_ is not None:
            add("vgg", feature_matching(self.feature_loss_(x), self.feature_loss_(recon), self.feature_layer_weights_))
        if self.has_discriminator:
            for p in self.disc_.parameters():
                p.requires_grad_(False)
            fake, ffeat = self.disc_(recon * 2 - 1)
            if L["gan"]:
                add("gan", hinge_g_loss(fake))
            if L["feat"]:
                with torch.no_grad():
                    _, rfeat = self.disc_(x * 2 - 1)
                add("feat", feature_matching(rfeat, ffeat))
            for p in self.disc_.parameters():
                p.requires_grad_(True)
        dist = aux["dist"]
        if L["margin"]:
            add("margin", margin_loss(dist, self.margin))
        if self.trust_update == "memory":   # the trust region moves the slots, not the encoder's latents
            dist = torch.cdist(aux["z"].detach(), self.model_.memory.weight)
        lt, r, d1 = trust_region(dist, self.delta2, self.delta1)
        if L["trust"]:
            add("trust", lt)
        # trust-region diagnostics (logged with or without the loss): share pulled / pushed / ignored
        parts["tr_pull"] = float((r == 1).float().mean())
        parts["tr_push"] = float((r == -1).float().mean())
        parts["tr_ignore"] = float((r == 0).float().mean())
        parts["delta1_mean"] = float(d1[torch.isfinite(d1)].mean()) if torch.isfinite(d1).any() else float("nan")
        parts["dist_nearest_mean"] = dist.detach().min(1).values.mean().item()
        return total, parts

    # --- analysis helpers -----------------------------------------------------------------------------
    @torch.no_grad()
    def memory_access(self, images: torch.Tensor) -> dict:
        """Memory addressing on ``images [N, 3, H, W]``: ``weights [N*h*w, slots]`` of every latent
        vector, ``nearest_dist [N, h, w]`` (distance of each ``z_i`` to its nearest slot) and
        ``usage [slots]`` (summed weights over all vectors, normalised to sum 1)."""
        if not hasattr(self, "model_"):
            raise DefectbookError("trustmae: call fit() before memory_access()")
        self.model_.eval()
        ws, ds = [], []
        for i in range(0, images.shape[0], self.batch_size):
            x = images[i : i + self.batch_size].to(self.device_) * 2 - 1
            z = self.model_.encoder(x)
            w, dist = self.model_.memory.address(z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]))
            ws.append(w)
            ds.append(dist.min(1).values.view(z.shape[0], *z.shape[-2:]))
        w = torch.cat(ws)
        return {"weights": w.cpu(), "nearest_dist": torch.cat(ds).cpu(), "usage": (w.sum(0) / w.sum()).cpu()}

    def _fit(self, images):
        super()._fit(images)
        acc = self.memory_access(images)
        self.train_usage_ = acc["usage"].tolist()
        w = acc["weights"]
        self.example_access_ = w[w.shape[0] // 2].tolist()   # one z_i (a central patch of the middle batch)
        self.nonzero_per_vector_ = float((w > 1e-6).sum(1).float().mean())

    def extras(self) -> dict:
        out = super().extras()
        out["memory"] = {"train_usage": [round(v, 6) for v in getattr(self, "train_usage_", [])],
                         "example_weights": [round(v, 6) for v in getattr(self, "example_access_", [])],
                         "mean_nonzero_weights": getattr(self, "nonzero_per_vector_", None),
                         "slots_used": int(sum(v > 1e-4 for v in getattr(self, "train_usage_", [])))}
        out["switches"] = {"sparse": self.sparse, "trust_region": self.trust_region, "perceptual": self.perceptual}
        size = getattr(self, "size_", None)
        if self.has_discriminator and size is not None and self._disc_layers(size) != self.disc_layers:
            out["effective_params"] = {"disc_layers": self._disc_layers(size)}    # capped by the image size
        return out
