"""Shared feature plumbing of the feature-based methods (PaDiM, N-pad, PatchCore, SPADE).

* :func:`extract` runs a :class:`~defectbook.components.backbones.FeatureExtractor` over images in batches.
* :func:`concat_layers` upsamples every layer to the largest map and concatenates channels.
* :func:`select_channels` draws PaDiM's random channel subset.
* :func:`gaussian_blur` and :func:`to_image_maps` turn feature-resolution score maps into
  image-resolution anomaly maps (bilinear upsampling, Gaussian blur sigma 4 as in PaDiM/PatchCore).
* :class:`FeatureCache`: backbone outputs of an image set computed once per build and reused by every
  feature method (in memory within a process, on disk across the notebooks' kernels); DifferNet's
  multi-transform features (shared with OCSVM and 1-NN) are kept in the same cache. Every file
  carries its key, dtype, shape and a digest of the tensor, checked when it is read back.
"""
from __future__ import annotations

import contextlib
import hashlib
import math
import os
import tempfile
import threading
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from .. import settings
from ..paths import cache_dir, share_as_umask
from ..utils import progress
from .backbones import FeatureExtractor


def concat_layers(
    maps: list[torch.Tensor], mode: str = "nearest", channels: torch.Tensor | None = None
) -> torch.Tensor:
    """Upsample each ``[B, C_l, h_l, w_l]`` to the largest ``h x w`` and concatenate: ``[B, sum C_l, h, w]``.

    ``channels`` (indices into the concatenation, e.g. PaDiM's random draw): only those, in that order,
    ``[B, len(channels), h, w]``; each layer's channels are picked before upsampling, so the dropped
    ones are never upsampled or copied (the same numbers as ``concat_layers(maps)[:, channels]``)."""
    h, w = max(m.shape[-2] for m in maps), max(m.shape[-1] for m in maps)
    if channels is not None:
        channels = channels.to(maps[0].device)
        order, picked, lo = torch.sort(channels), [], 0
        for m in maps:
            hi = lo + m.shape[1]
            mine = order.values[(order.values >= lo) & (order.values < hi)] - lo
            if mine.numel():
                picked.append(m if mine.numel() == m.shape[1] else m.index_select(1, mine))
            lo = hi
        maps = picked
    out = [m if m.shape[-2:] == (h, w) else F.interpolate(m, size=(h, w), mode=mode) for m in maps]
    out = torch.cat(out, dim=1)
    if channels is not None and not bool((order.indices == torch.arange(len(channels), device=out.device)).all()):
        out = out[:, torch.argsort(order.indices)]               # back to the order asked for
    return out


def iter_embeddings(extractor: Callable[[torch.Tensor], list[torch.Tensor]], images: torch.Tensor,
                    batch_size: int = 16, desc: str = "features",
                    post: Callable[[list[torch.Tensor]], torch.Tensor] = concat_layers,
                    device: torch.device | str = "cpu") -> Iterator[torch.Tensor]:
    """Yield ``post(extractor(batch))`` for consecutive batches of ``images`` ``[N, 3, H, W]``, on ``device``
    (the features stay where the backbone ran: no copy back to the CPU per batch). The backbone outputs
    of a :class:`~defectbook.components.backbones.FeatureExtractor` come from :data:`FEATURES` when it holds them."""
    n_batches = math.ceil(images.shape[0] / batch_size)
    key = FEATURES.key(extractor, images, batch_size)
    cached = FEATURES.get(key, images.shape[0]) if key else None
    if cached is not None:
        for i in range(n_batches):
            yield post([m[i * batch_size:(i + 1) * batch_size].to(device) for m in cached])
        return
    store: list[list[torch.Tensor]] | None = [] if key else None
    with torch.no_grad():
        for i in progress(range(n_batches), desc=desc):
            batch = images[i * batch_size:(i + 1) * batch_size].to(device)
            maps = padded_call(extractor, batch, batch_size)
            if store is not None:
                store.append([m.detach().to("cpu", copy=True) for m in maps])
            yield post(maps)
    if store:
        FEATURES.put(key, [torch.cat(layer) for layer in zip(*store)])


class FeatureCache:
    """Backbone outputs ``[N, C_l, h_l, w_l]`` per layer of an image set, keyed by the backbone's name,
    a digest of its weights, its input normalisation, the layer, the batch size (CPU convolutions pick
    their algorithm by batch shape) and a digest of the images themselves (so the data, split, transform
    and image size are all part of the key). A hit returns exactly the tensors the backbone gave.

    Two levels: an LRU in memory (``DEFECTBOOK_FEATURE_CACHE_MEM_MB``, default 1024) and files under
    ``<cache dir>/features`` (``DEFECTBOOK_FEATURE_CACHE_MB``, default 4096; oldest used first out),
    written to a temporary file and renamed (safe with concurrent writers; the notebooks of a build
    run in separate kernels). ``DEFECTBOOK_FEATURE_CACHE=0`` turns both off; ``=memory`` keeps only the
    in-memory level. An image set whose features exceed a quarter of a level's budget is not kept there;
    images already on an accelerator (N-pad's shifted copies on a GPU) are not cached.

    Nothing read back is trusted unchecked: a file holds, beside the tensor, its key, dtype, shape and a
    digest of its bytes (:data:`FILE_FORMAT`). A file whose stored key is not the one asked for (copied
    onto another entry's name), whose digest fails (flipped bytes), whose first dimension is not the
    number of images asked for, or which is not of that form at all (an older plain-tensor file) is
    refused with a warning naming it, deleted, and the features are computed again (a miss). An
    in-memory entry changed in place by a caller (its tensor's version counter moved) is dropped the same
    way. :meth:`verify` checks every file of the folder without deleting anything.
    """

    @staticmethod
    @contextlib.contextmanager
    def off():
        """Within the block, nothing is read from or written to the cache (``DEFECTBOOK_FEATURE_CACHE=0``):
        e.g. to time a method's own feature extraction."""
        before = settings.get("DEFECTBOOK_FEATURE_CACHE")
        os.environ["DEFECTBOOK_FEATURE_CACHE"] = "0"
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("DEFECTBOOK_FEATURE_CACHE", None)
            else:
                os.environ["DEFECTBOOK_FEATURE_CACHE"] = before

    @contextlib.contextmanager
    def computing(self, keys: list[str] | None):
        """Hold a lock file for ``keys`` (in the cache folder) while the caller computes what they name, so that
        processes asking for the same features at once (notebooks, or a cluster's workers, of one build) compute
        them once: the second waits, then reads them (it looks again inside the block). A no-op without keys or
        without the file level. Not for nested use: a process holds one such lock at a time."""
        if not keys or self.mode() != "disk":
            yield
            return
        from filelock import FileLock

        folder = self.folder()
        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder / f"{keys[0]}.lock")):
            yield

    def __init__(self) -> None:
        # key -> (tensor, its version counter when stored): an in-place change of a tensor handed out
        # moves the counter, so a changed entry is never served
        self._mem: OrderedDict[str, tuple[torch.Tensor, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @staticmethod
    def mode() -> str:
        v = settings.get("DEFECTBOOK_FEATURE_CACHE", "1").strip().lower()
        return "off" if v in ("0", "off", "false", "no", "") else ("memory" if v == "memory" else "disk")

    @staticmethod
    def _budget(var: str, default_mb: float) -> int:
        return int(float(settings.get(var, default_mb)) * 2 ** 20)

    def folder(self) -> Path:
        return cache_dir() / "features"

    # -- keys -------------------------------------------------------------------------------
    @staticmethod
    def weights_digest(extractor) -> str:
        """Digest of the extractor's parameters and buffers (memoised on the extractor)."""
        d = getattr(extractor, "_weights_digest", None)
        if d is None:
            h = hashlib.blake2b(digest_size=16)
            for name, t in extractor.model.state_dict().items():
                h.update(name.encode())
                h.update(_tensor_bytes(t))
            d = h.hexdigest()
            extractor._weights_digest = d
        return d

    def key(self, extractor, images: torch.Tensor, batch_size: int) -> list[str] | None:
        """One key per requested layer, or None when caching is off or ``extractor`` is not a
        :class:`~defectbook.components.backbones.FeatureExtractor`."""
        if (self.mode() == "off" or not isinstance(extractor, FeatureExtractor) or images.shape[0] == 0
                or images.device.type != "cpu"):      # hashing a GPU-resident batch would cost more than it saves
            return None
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{tuple(images.shape)}:{images.dtype}".encode())
        h.update(_tensor_bytes(images))
        base = (f"{extractor.name}|{self.weights_digest(extractor)}|{extractor.normalize}|{batch_size}|"
                f"{h.hexdigest()}")
        return [hashlib.blake2b(f"{base}|{t}".encode(), digest_size=20).hexdigest() for t in extractor._targets]

    # -- lookup -----------------------------------------------------------------------------
    def get(self, keys: list[str], n: int | None = None) -> list[torch.Tensor] | None:
        """The tensors of ``keys`` (one per layer), or None (a miss) when any is absent or refused.
        ``n``: the number of images the features are asked for (a tensor whose first dimension differs
        is refused)."""
        out = []
        for k in keys:
            t = self._get_one(k, n)
            if t is None:
                self.misses += 1
                return None
            out.append(t)
        self.hits += 1
        return out

    def _get_one(self, k: str, n: int | None = None) -> torch.Tensor | None:
        why = None
        with self._lock:
            entry = self._mem.get(k)
            if entry is not None:
                t, version = entry
                if t._version != version:
                    why = "was changed in place after it was stored"
                elif n is not None and t.shape[0] != n:
                    why = f"holds features of {t.shape[0]} images, not of the {n} asked for"
                else:
                    self._mem.move_to_end(k)
                    return t
                del self._mem[k]
        if why:
            warnings.warn(f"in-memory feature cache entry {k} {why}: not used; the features are computed again",
                          stacklevel=3)
        if self.mode() != "disk":
            return None
        f = self.folder() / f"{k}.pt"
        try:
            payload = torch.load(f, weights_only=True)
        except FileNotFoundError:
            return None
        except Exception as e:                               # noqa: BLE001 - any unreadable file is a miss
            return self._refuse(f, f"unreadable ({type(e).__name__})")
        t, why = check_payload(payload, k, n)
        if why:
            return self._refuse(f, why)
        try:
            os.utime(f)                                      # most recently used: evicted last
        except OSError:
            pass
        self._remember(k, t)
        return t

    @staticmethod
    def _refuse(f: Path, why: str) -> None:
        warnings.warn(f"feature cache file {f} {why}: not used and deleted; the features are computed again",
                      stacklevel=4)
        try:
            f.unlink(missing_ok=True)
        except OSError:
            pass
        return None

    def verify(self, folder: Path | str | None = None) -> list[tuple[Path, str]]:
        """``(path, reason)`` of every file of the disk cache (``folder``, default :meth:`folder`) that a
        read would refuse: unreadable, not of :data:`FILE_FORMAT`, stored key not its file name, or a
        digest that fails. Nothing is deleted. (The number of images is checked only on a read, where
        it is known.)"""
        folder = Path(folder) if folder is not None else self.folder()
        bad = []
        for f in sorted(folder.glob("*.pt")) if folder.is_dir() else []:
            try:
                payload = torch.load(f, weights_only=True)
            except FileNotFoundError:                        # evicted by another process meanwhile
                continue
            except Exception as e:                           # noqa: BLE001
                bad.append((f, f"unreadable ({type(e).__name__})"))
                continue
            why = check_payload(payload, f.stem)[1]
            if why:
                bad.append((f, why))
        return bad

    def put(self, keys: list[str], maps: list[torch.Tensor]) -> None:
        for k, t in zip(keys, maps):
            self._remember(k, t)
            if self.mode() == "disk":
                self._write(k, t)

    def _remember(self, k: str, t: torch.Tensor) -> None:
        budget = self._budget("DEFECTBOOK_FEATURE_CACHE_MEM_MB", 1024)
        size = t.numel() * t.element_size()
        if size > budget // 4:
            return
        with self._lock:
            self._mem[k] = (t, t._version)
            self._mem.move_to_end(k)
            total = sum(v.numel() * v.element_size() for v, _ in self._mem.values())
            while total > budget and len(self._mem) > 1:
                _, (old, _) = self._mem.popitem(last=False)
                total -= old.numel() * old.element_size()

    def _write(self, k: str, t: torch.Tensor) -> None:
        budget = self._budget("DEFECTBOOK_FEATURE_CACHE_MB", 4096)
        if t.numel() * t.element_size() > budget // 4:
            return
        folder, tmp = self.folder(), None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{k}.", suffix=".tmp")
            share_as_umask(tmp)                              # a shared cache stays readable to the group
            with os.fdopen(fd, "wb") as fh:
                torch.save(make_payload(k, t), fh)
            os.replace(tmp, folder / f"{k}.pt")              # atomic: readers see the whole file or none
            self._evict(folder, budget)
        except OSError:                                      # a full or read-only disk: stay in memory only
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)

    @staticmethod
    def _evict(folder: Path, budget: int) -> None:
        files = []
        for f in folder.glob("*.pt"):
            try:
                st = f.stat()
                files.append((st.st_mtime, st.st_size, f))
            except OSError:                                  # removed by another process meanwhile
                pass
        total = sum(s for _, s, _ in files)
        for _, size, f in sorted(files, key=lambda r: r[0]):
            if total <= budget:
                break
            f.unlink(missing_ok=True)
            total -= size

    def clear(self, disk: bool = False) -> None:
        """Empty the in-memory level (and the files with ``disk=True``)."""
        with self._lock:
            self._mem.clear()
        if disk:
            for f in self.folder().glob("*.pt"):
                f.unlink(missing_ok=True)


#: What a feature-cache file holds (one ``torch.save``d dict, read with ``weights_only=True``).
FILE_FORMAT = "defectbook-feature-cache-1"


def tensor_digest(t: torch.Tensor) -> str:
    """Digest of a tensor's dtype, shape and bytes (blake2b, 128 bits)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{t.dtype}|{tuple(t.shape)}|".encode())
    h.update(_tensor_bytes(t))
    return h.hexdigest()


def make_payload(key: str, t: torch.Tensor) -> dict:
    """The self-verifying content of a cache file for tensor ``t`` under ``key``."""
    t = t.detach().to("cpu").contiguous()
    return {"format": FILE_FORMAT, "key": key, "dtype": str(t.dtype), "shape": list(t.shape),
            "digest": tensor_digest(t), "tensor": t}


def check_payload(payload, key: str, n: int | None = None) -> tuple[torch.Tensor | None, str | None]:
    """``(tensor, None)`` when ``payload`` (a loaded cache file) is a valid entry for ``key`` holding the
    features of ``n`` images (None: any number), else ``(None, reason)``."""
    if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
        return None, "is not a self-verifying cache file (older format or foreign content)"
    t = payload.get("tensor")
    if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.ndim < 1:
        return None, "holds no floating-point feature tensor"
    if payload.get("key") != key:
        return None, f"holds the entry {payload.get('key')!r}, not {key!r} (copied onto another entry's name)"
    if payload.get("dtype") != str(t.dtype) or payload.get("shape") != list(t.shape):
        return None, (f"holds a {t.dtype} tensor of shape {list(t.shape)}, not the {payload.get('dtype')} "
                      f"{payload.get('shape')} it records")
    if payload.get("digest") != tensor_digest(t):
        return None, "fails its digest (changed or damaged bytes)"
    if n is not None and t.shape[0] != n:
        return None, f"holds features of {t.shape[0]} images, not of the {n} asked for"
    return t, None


def _tensor_bytes(t: torch.Tensor) -> memoryview:
    """The raw bytes of ``t`` (on the CPU, contiguous) for hashing."""
    return memoryview(t.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy())


#: the process's feature cache (see :class:`FeatureCache`)
FEATURES = FeatureCache()


def padded_call(fn: Callable[[torch.Tensor], object], batch: torch.Tensor, size: int):
    """``fn(batch)`` computed on a batch of exactly ``size`` images (a shorter batch is padded with
    copies of its last image, the extra outputs dropped): CPU convolutions pick their algorithm by
    batch shape, so the last, smaller batch would otherwise score identical images differently
    (float noise that decides AUROC between ties). ``fn`` returns a tensor or a list of tensors."""
    n = batch.shape[0]
    if n >= size:
        return fn(batch)
    out = fn(pad_batch(batch, size))
    return [o[:n] for o in out] if isinstance(out, (list, tuple)) else out[:n]


def pad_batch(batch: torch.Tensor, size: int) -> torch.Tensor:
    """``batch [n, ...]`` extended to ``size`` rows with copies of its last row (unchanged if n >= size)."""
    n = batch.shape[0]
    return batch if n >= size else torch.cat([batch, batch[-1:].expand(size - n, *batch.shape[1:])])


def extract(extractor: Callable[[torch.Tensor], list[torch.Tensor]], images: torch.Tensor, batch_size: int = 16,
            desc: str = "features", post: Callable[[list[torch.Tensor]], torch.Tensor] = concat_layers,
            device: torch.device | str = "cpu") -> torch.Tensor:
    """All embeddings at once: ``[N, C, h, w]`` (see :func:`iter_embeddings`)."""
    return torch.cat(list(iter_embeddings(extractor, images, batch_size, desc, post, device)))


def select_channels(total: int, d: int | None, seed: int = 0) -> torch.Tensor | None:
    """Indices of ``d`` of ``total`` channels drawn uniformly without replacement (seeded); None keeps all."""
    if d is None or d >= total:
        return None
    if d < 1:
        raise ValueError(f"number of channels must be >= 1, got {d}")
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=g)[:d].sort().values


def gaussian_kernel1d(sigma: float, size: int | None = None, dtype: torch.dtype = torch.float32,
                      device=None) -> torch.Tensor:
    """Normalised 1-D Gaussian ``[size]``, centred; ``size`` None: radius ``4 sigma`` (the kernel size
    PaDiM/anomalib use). SSIM's window (11 taps, sigma 1.5) is this with ``size=11``."""
    if size is None:
        size = 2 * max(1, int(4 * sigma + 0.5)) + 1
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(maps: torch.Tensor, sigma: float = 4.0) -> torch.Tensor:
    """Separable Gaussian blur of ``[B, H, W]`` maps with reflect padding; ``sigma <= 0`` is the identity."""
    if sigma <= 0:
        return maps
    k = gaussian_kernel1d(sigma).to(maps)
    r = k.numel() // 2
    x = maps[:, None]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect" if r < x.shape[-1] else "replicate"), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect" if r < x.shape[-2] else "replicate"), k.view(1, 1, -1, 1))
    return x[:, 0]


def to_image_maps(scores: torch.Tensor, size: tuple[int, int], sigma: float = 4.0) -> torch.Tensor:
    """``[B, h, w]`` feature-resolution scores -> ``[B, H, W]`` (bilinear upsampling, then blur)."""
    up = F.interpolate(scores[:, None].float(), size=size, mode="bilinear", align_corners=False)[:, 0]
    return gaussian_blur(up, sigma)


def shift_images(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Translate ``[B, C, H, W]`` by ``(dy, dx)`` pixels (content moves down/right for positive values);
    the uncovered border repeats the edge (replicate padding), so nothing wraps around."""
    if dy == 0 and dx == 0:
        return x
    h, w = x.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        raise ValueError(f"shift ({dy}, {dx}) exceeds the image size {h} x {w}")
    pad = (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0))
    squeeze = x.ndim == 3
    xp = F.pad(x[:, None] if squeeze else x, pad, mode="replicate")
    out = xp[..., max(-dy, 0):max(-dy, 0) + h, max(-dx, 0):max(-dx, 0) + w]
    return out[:, 0] if squeeze else out


def positive_counts(features: torch.Tensor) -> torch.Tensor:
    """Number of positive (non-zero after ReLU) values per channel of ``[N, C, h, w]``: ``[C]``."""
    return (features > 0).sum((0, 2, 3))


def local_average(features: torch.Tensor, radius: int) -> torch.Tensor:
    """Average of each ``[B, C, h, w]`` feature over its ``(2r+1)^2`` neighbourhood (positions outside
    the map are left out of the average); ``radius = 0`` is the identity."""
    if radius <= 0:
        return features
    # a depthwise box convolution divided by the in-map count: the same numbers as
    # avg_pool2d(count_include_pad=False), several times faster on the CPU
    c, (h, w) = features.shape[1], features.shape[-2:]
    k = 2 * radius + 1
    box = torch.ones(c, 1, k, k, dtype=features.dtype, device=features.device)
    total = F.conv2d(features, box, padding=radius, groups=c)
    count = F.conv2d(torch.ones(1, 1, h, w, dtype=features.dtype, device=features.device), box[:1], padding=radius)
    return total / count
