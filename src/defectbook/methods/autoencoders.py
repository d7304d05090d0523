"""Reconstruction detectors: the training loop shared by TrustMAE, MemAE, AE-L2 and AE-SSIM, and
the two convolutional auto-encoder baselines of Bergmann et al. (2019, "Improving unsupervised
defect segmentation by applying structural similarity to autoencoders").

:class:`ReconstructionDetector` owns everything the four models share: scaling images to
``[-1, 1]``, seeded shuffling, flip/rotation augmentation, Adam, an optional hinge-GAN
discriminator step, the loss history, and the test-time distance map and pooled image score.
A subclass builds its generator (``_build``) and defines its loss (``_loss``).

Distance maps (``distance``): ``"mse"`` (squared error averaged over channels), ``"ssim"``
(``1 - SSIM``, 11x11 window), ``"pd"`` (spatial perceptual distance, :mod:`.perceptual`) and
``"mse*pd"`` (TrustMAE's product). Image score: the map's spatial ``max`` or ``mean``
(``pooling``); both are kept in :meth:`extras` so one fit gives both columns of TrustMAE's Table 1.
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import DefectbookError
from ..components.features import pad_batch
from ..components.losses import ssim_loss, ssim_map
from ..utils import progress, resolve_device
from .base import Detector, Prediction, batches, check_params
from .registry import register

DISTANCES = ("mse", "ssim", "pd", "mse*pd")


def augment_batch(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal/vertical flips and a random multiple of 90° per image of ``x [B, C, H, W]``
    (square images; non-square ones get flips only)."""
    b = x.shape[0]
    r = torch.randint(0, 2, (b, 3), generator=generator)
    out = []
    for i in range(b):
        xi = x[i]
        if r[i, 0]:
            xi = xi.flip(-1)
        if r[i, 1]:
            xi = xi.flip(-2)
        if r[i, 2] and xi.shape[-1] == xi.shape[-2]:
            xi = xi.transpose(-1, -2)   # with the flips: all 8 symmetries of the square (rotations by 90°)
        out.append(xi)
    return torch.stack(out)


class ReconstructionDetector(Detector):
    """Base of the reconstruction models (shared training loop and scoring).

    Common parameters: ``epochs``, ``batch_size``, ``lr`` (generator Adam), ``lr_disc``
    (discriminator Adam, used when the subclass has one), ``augment`` (flips and 90° rotations,
    off for fixed-orientation categories), ``distance`` (one of :data:`DISTANCES`), ``pooling``
    (``max`` or ``mean``), ``perceptual_net`` (``auto``/``alex``/``vgg``/``offline``, for
    ``pd`` distances), ``sigma`` (Gaussian blur of the map before pooling, 0 = none), ``seed``,
    ``device``.
    """

    name = "reconstruction"
    has_discriminator = False

    def __init__(self, epochs: int = 100, batch_size: int = 16, lr: float = 1e-4, lr_disc: float = 4e-4,
                 augment: bool = True, distance: str = "mse", pooling: str = "max", perceptual_net: str = "auto",
                 sigma: float = 0.0, seed: int = 0, device: str | None = "cpu", max_steps: int | None = None,
                 perceptual_weights: str | None = None):
        check_params(getattr(self, "name", "autoencoder"), epochs=(epochs, "int>=1"), batch_size=(batch_size, "int>=1"),
                     lr=(lr, "float>0"), lr_disc=(lr_disc, "float>0"), sigma=(sigma, "float>=0"), seed=(seed, "int"),
                     max_steps=(max_steps, "int>=1?"))
        if distance not in DISTANCES:
            raise DefectbookError(f"unknown distance {distance!r}; known: {', '.join(DISTANCES)}")
        if pooling not in ("max", "mean"):
            raise DefectbookError(f"pooling must be 'max' or 'mean', got {pooling!r}")
        if int(epochs) < 1 or int(batch_size) < 1:
            raise DefectbookError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
        self.epochs, self.batch_size, self.lr, self.lr_disc = int(epochs), int(batch_size), lr, lr_disc
        self.augment, self.distance, self.pooling = augment, distance, pooling
        self.perceptual_net, self.sigma, self.seed, self.device = perceptual_net, sigma, seed, device
        resolve_device(device)        # an unavailable device is a clear error here, not at fit
        self.max_steps = max_steps
        self.perceptual_weights = perceptual_weights   # the perceptual trunk's weights: None (ImageNet) or "random"

    _rebuilt = ("device_", "gen_", "opt_")

    # --- subclass hooks --------------------------------------------------------------------------
    def _build(self, size: tuple[int, int]) -> nn.Module:  # pragma: no cover - abstract
        """The generator: ``forward(x [B,3,H,W] in [-1,1]) -> (recon [B,3,H,W] in [-1,1], aux dict)``."""
        raise NotImplementedError

    def _generator(self, size: tuple[int, int]) -> nn.Module:
        """The bare generator (no training-only parts); a saved model's weights are loaded into it."""
        return self._build(size)

    def _rebuild(self) -> None:
        self.model_ = self._placed(self._generator(self.size_))

    def _layout(self) -> torch.memory_format:
        """The memory layout of the generator's weights and inputs: channels-last on the CPU, where oneDNN's
        convolutions run about 10-25 % faster per training step that way at the book's sizes (TrustMAE, the
        auto-encoders, NDP-Net); the default layout elsewhere. The layout changes no arithmetic, only the
        order of float additions."""
        return torch.channels_last if self.device_.type == "cpu" else torch.contiguous_format

    def _placed(self, module: nn.Module) -> nn.Module:
        return module.to(self.device_, memory_format=self._layout())

    def _loss(self, x: torch.Tensor, recon: torch.Tensor, aux: dict) -> tuple[torch.Tensor, dict]:  # pragma: no cover
        """Generator loss on ``x, recon`` in ``[0, 1]``: ``(total, {part: float})``."""
        raise NotImplementedError

    def _disc_step(self, x01: torch.Tensor, recon01: torch.Tensor) -> dict:
        return {}

    def _optimizer(self, params) -> torch.optim.Optimizer:
        """The generator's optimiser (Adam, betas 0.5 / 0.999); NDP-Net overrides it."""
        return torch.optim.Adam(params, lr=self.lr, betas=(0.5, 0.999))

    def _epoch_end(self, epoch: int) -> None:
        pass

    # --- training -----------------------------------------------------------------------------------
    def _fit(self, images: torch.Tensor) -> None:
        self.device_ = resolve_device(self.device)
        torch.manual_seed(self.seed)
        self.gen_ = torch.Generator().manual_seed(self.seed)
        self.size_ = tuple(images.shape[-2:])
        self.model_ = self._placed(self._build(self.size_))
        self.opt_ = self._optimizer(self.model_.parameters())
        self.history_: dict[str, list[float]] = {}
        images = images.to(self.device_)          # the training set moves to the device once
        n = images.shape[0]
        steps, t0 = 0, time.perf_counter()
        bar = progress(range(self.epochs), desc=f"{self.name} fit", total=self.epochs)
        for epoch in bar:
            self.model_.train()
            order = torch.randperm(n, generator=self.gen_)
            sums: dict[str, float] = {}
            nb = 0
            for i in range(0, n, self.batch_size):
                idx = order[i : i + self.batch_size]
                if len(idx) < 2 and n >= 2:   # batch norm needs two images
                    continue
                x = images[idx.to(images.device)]
                if self.augment:
                    x = augment_batch(x, self.gen_)
                x = x.to(self.device_).contiguous(memory_format=self._layout())
                recon, aux = self.model_(x * 2 - 1)
                recon01 = (recon + 1) / 2
                parts = self._disc_step(x, recon01.detach()) if self.has_discriminator else {}
                loss, gparts = self._loss(x, recon01, aux)
                if not torch.isfinite(loss):
                    raise DefectbookError(f"{self.name}: the training loss became {loss.item()} at epoch {epoch}")
                self.opt_.zero_grad(set_to_none=True)
                loss.backward()
                self.opt_.step()
                parts |= gparts | {"total": loss.item()}
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                nb += 1
                steps += 1
                if self.max_steps and steps >= self.max_steps:
                    break
            for k, v in sums.items():
                self.history_.setdefault(k, []).append(v / max(nb, 1))
            self._epoch_end(epoch)
            if self.max_steps and steps >= self.max_steps:
                break
        self.steps_ = steps
        self.seconds_per_step_ = (time.perf_counter() - t0) / max(steps, 1)
        self.model_.eval()

    # --- inference ----------------------------------------------------------------------------------
    @property
    def pd_(self):
        if getattr(self, "_pd", None) is None:
            from ..components.perceptual import SpatialPerceptualDistance

            self._pd = SpatialPerceptualDistance(self.perceptual_net, self.perceptual_weights).to(self.device_).eval()
        return self._pd

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """Reconstructions ``[N, 3, H, W]`` in ``[0, 1]`` of ``images [N, 3, H, W]`` in ``[0, 1]``."""
        if not getattr(self, "fitted_", False):
            raise DefectbookError(f"{self.name}: call fit() before reconstruct()")
        return torch.cat([self._reconstruct(x).cpu() for x in batches(images, self.batch_size)])

    def _reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstructions of one batch, left on the device."""
        self.model_.eval()
        x = x.to(self.device_).contiguous(memory_format=self._layout())
        return ((self.model_(x * 2 - 1)[0] + 1) / 2).clamp(0, 1)

    @torch.no_grad()
    def distance_map(self, x: torch.Tensor, recon: torch.Tensor, distance: str | None = None) -> torch.Tensor:
        """Distance map ``[B, H, W]`` (on the CPU) between images and reconstructions ``[B, 3, H, W]`` in [0, 1]."""
        return self._distance_map(x, recon, distance).cpu()

    def _distance_map(self, x: torch.Tensor, recon: torch.Tensor, distance: str | None = None) -> torch.Tensor:
        distance = distance or self.distance
        if distance not in DISTANCES:
            raise DefectbookError(f"unknown distance {distance!r}; known: {', '.join(DISTANCES)}")
        x, recon = x.to(self.device_), recon.to(self.device_)
        if distance == "mse":
            m = (x - recon).pow(2).mean(1)
        elif distance == "ssim":
            m = 1 - ssim_map(x, recon)
        else:
            pd = self.pd_(x, recon)
            m = pd if distance == "pd" else (x - recon).pow(2).mean(1) * pd
        if self.sigma:
            from ..components.features import gaussian_blur

            m = gaussian_blur(m[:, None], self.sigma)[:, 0]
        return m

    def _predict(self, images: torch.Tensor) -> Prediction:
        maps, mse = [], []
        with torch.no_grad():
            for x in progress(list(batches(images, self.batch_size)), desc=f"{self.name} predict"):
                # a full batch always: scores free of batch position
                n, x = x.shape[0], pad_batch(x.to(self.device_), self.batch_size)
                recon = self._reconstruct(x)
                maps.append(self._distance_map(x, recon)[:n])
                if self.distance != "mse":
                    mse.append(self._distance_map(x, recon, "mse")[:n])
        maps = torch.cat(maps).cpu()                     # results leave the device once
        flat = maps.flatten(1)
        self.last_scores_ = {"max": flat.amax(1).tolist(), "mean": flat.mean(1).tolist()}
        # the same reconstructions scored with the squared error alone (TrustMAE's "w/o PD" ablation)
        mse = torch.cat(mse).cpu().flatten(1) if mse else flat
        self.last_scores_mse_ = {"max": mse.amax(1).tolist(), "mean": mse.mean(1).tolist()}
        return Prediction(np.array(self.last_scores_[self.pooling]), maps.numpy())

    def extras(self) -> dict:
        """Loss history per epoch, both pooled scores of the last prediction, the distance label."""
        out = {"history": {k: [round(v, 6) for v in vals] for k, vals in getattr(self, "history_", {}).items()},
               "scores_by_pooling": getattr(self, "last_scores_", {}),
               "mse_scores_by_pooling": getattr(self, "last_scores_mse_", {}), "distance": self.distance,
               "pooling": self.pooling, "steps": getattr(self, "steps_", 0),
               "seconds_per_step": round(getattr(self, "seconds_per_step_", 0.0), 4),
               "parameters": sum(p.numel() for p in self.model_.parameters()) if hasattr(self, "model_") else 0}
        if "pd" in self.distance and getattr(self, "_pd", None) is not None:
            out["perceptual"] = self._pd.label
            if self._pd.fallback_reason:
                out["perceptual_fallback"] = self._pd.fallback_reason
        return out

    def describe(self) -> str | None:
        """Provenance: the pretrained networks this model used (perceptual distance, feature loss)."""
        parts = []
        if "pd" in self.distance and getattr(self, "_pd", None) is not None:
            parts.append(f"PD: {self._pd.label}")
        fl = getattr(self, "feature_loss_", None)
        if fl is not None:
            parts.append(f"feature loss: {fl.describe()}")
        return "; ".join(parts) or None

    @property
    def extractor_(self):
        """Lets the experiment runner's provenance find :meth:`describe` (None: trained from scratch)."""
        return self if self.describe() else None


# --- Bergmann et al. convolutional auto-encoder ------------------------------------------------------

#: (out channels, kernel, stride, padding) of the encoder of Bergmann et al. (2019), Table 1.
BERGMANN_ENCODER = [(32, 4, 2, 1), (32, 4, 2, 1), (32, 3, 1, 1), (64, 4, 2, 1), (64, 3, 1, 1),
                    (128, 4, 2, 1), (64, 3, 1, 1), (32, 3, 1, 1)]


class BergmannAE(nn.Module):
    """Bergmann et al.'s auto-encoder for ``[B, 3, S, S]`` inputs in [-1, 1] (S divisible by 16).

    Encoder: the convolutions of :data:`BERGMANN_ENCODER` (channels times ``width``) with
    LeakyReLU(0.2), then a ``S/16 x S/16`` convolution to the ``latent``-dimensional code ``[B, latent, 1, 1]``.
    Decoder: the mirror image with transposed convolutions; tanh output ``[B, 3, S, S]``.
    """

    def __init__(self, size: int, latent: int = 100, width: float = 1.0):
        super().__init__()
        if size % 16:
            raise DefectbookError(f"the AE baselines need an image side divisible by 16, got {size}")
        ch = [max(4, int(round(c * width))) for c, *_ in BERGMANN_ENCODER]
        enc, cin = [], 3
        for c, (_, k, s, p) in zip(ch, BERGMANN_ENCODER):
            enc += [nn.Conv2d(cin, c, k, s, p), nn.LeakyReLU(0.2, inplace=True)]
            cin = c
        enc += [nn.Conv2d(cin, latent, size // 16, 1, 0)]
        self.encoder = nn.Sequential(*enc)
        dec = [nn.ConvTranspose2d(latent, cin, size // 16, 1, 0), nn.LeakyReLU(0.2, inplace=True)]
        rev = list(zip(ch, BERGMANN_ENCODER))[::-1]
        for j, (c, (_, k, s, p)) in enumerate(rev):
            cout = rev[j + 1][0] if j + 1 < len(rev) else ch[0]
            conv = nn.ConvTranspose2d(c, cout, k, s, p) if s == 2 else nn.Conv2d(c, cout, k, s, p)
            dec += [conv, nn.LeakyReLU(0.2, inplace=True)]
        dec += [nn.Conv2d(ch[0], 3, 3, 1, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: torch.Tensor):
        return self.decoder(self.encoder(x)), {}


class AutoEncoder(ReconstructionDetector):
    """AE-L2 / AE-SSIM baseline (Bergmann et al. 2019, settings of Dehaene et al. 2020).

    ``loss``: ``"l2"`` (mean squared error; AE-L2 / "AE-MSE") or ``"ssim"`` (``1 - SSIM``,
    11x11 window). ``latent`` = 100 (paper), ``width`` scales the channel counts (1 = paper).
    Default distance map: squared error for ``l2``, ``1 - SSIM`` for ``ssim``.
    """

    name = "ae"

    def __init__(self, loss: str = "l2", latent: int = 100, width: float = 1.0, epochs: int = 300,
                 distance: str | None = None, **kw):
        if loss not in ("l2", "ssim"):
            raise DefectbookError(f"AutoEncoder loss must be 'l2' or 'ssim', got {loss!r}")
        check_params(f"ae-{loss}", latent=(latent, "int>=1"), width=(width, "float>0"))
        super().__init__(epochs=epochs, distance=distance or ("mse" if loss == "l2" else "ssim"), **kw)
        self.loss, self.latent, self.width = loss, int(latent), width
        self.name = f"ae-{loss}"

    def _build(self, size):
        if size[0] != size[1]:
            raise DefectbookError(f"the AE baselines need square images, got {size[0]}x{size[1]}")
        return BergmannAE(size[0], self.latent, self.width)

    def _loss(self, x, recon, aux):
        loss = F.mse_loss(recon, x) if self.loss == "l2" else ssim_loss(recon, x)
        return loss, {self.loss: loss.item()}


@register("ae_l2", label="AE-MSE")
class AEL2(AutoEncoder):
    """AE-L2 ("AE-MSE" in TrustMAE's Fig. 4): :class:`AutoEncoder` with ``loss="l2"``."""

    def __init__(self, **kw):
        super().__init__(loss="l2", **kw)


@register("ae_ssim", label="AE-SSIM")
class AESSIM(AutoEncoder):
    """AE-SSIM: :class:`AutoEncoder` with ``loss="ssim"``."""

    def __init__(self, **kw):
        super().__init__(loss="ssim", **kw)


def check_divisible(size: tuple[int, int], factor: int, what: str) -> None:
    if size[0] % factor or size[1] % factor:
        raise DefectbookError(f"{what} needs image sides divisible by {factor}, got {size[0]}x{size[1]}")


__all__ = ["ReconstructionDetector", "AutoEncoder", "AEL2", "AESSIM", "BergmannAE", "augment_batch", "DISTANCES",
           "check_divisible"]
