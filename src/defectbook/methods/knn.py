"""DifferNet's baselines on DifferNet's features: one-class SVM and 1-nearest-neighbour.

DifferNet (Sec. 4.3) adapts both to its pipeline: "We used every technique of our pipeline but
replaced the normalizing flow with them. We evaluate several transformations and used the mean
respective score." So both fit on the multi-scale features of the training images under random
transforms (:class:`~defectbook.methods.differnet.MultiTransformFeatures`, a fixed bank of
``train_bank`` transforms per image) and score a test image by the mean over the fixed test
rotations.

* :class:`NearestNeighbor` (Nazare et al.): PCA to ``pca`` = 64 dimensions, z-score of the
  components, Euclidean distance to the nearest training vector.
* :class:`OCSVM` (Andrews et al.): z-scored features, RBF one-class SVM (``nu``, ``gamma``);
  score = minus the decision function. The paper gives no kernel settings: ours are scikit-learn's
  defaults (``gamma="scale"``) and ``nu = 0.5``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .. import DefectbookError
from ..utils import resolve_device
from .base import Detector, Prediction, check_params
from .differnet import MultiTransformFeatures, identity_transforms, random_transforms, rotation_angles
from .registry import register


class _FeatureBaseline(Detector):
    """Shared part: DifferNet features of a training bank and of the fixed test rotations."""

    def __init__(self, backbone: str = "efficientnet_lite0", layer: str = "layer4", weights: str | None = None,
                 scales: Sequence[float] = (1.0, 0.5, 0.25), train_transforms: bool = True, jitter: float = 0.0,
                 train_bank: int = 8, test_transforms: int = 64, feature_batch: int = 16, seed: int = 0,
                 device: str | None = "cpu"):
        check_params(self.name, jitter=(jitter, "float[0,1)"), train_bank=(train_bank, "int>=1"),
                     test_transforms=(test_transforms, "int"), feature_batch=(feature_batch, "int>=1"),
                     seed=(seed, "int"))
        self.backbone, self.layer, self.weights, self.scales = backbone, layer, weights, list(scales)
        self.train_transforms, self.jitter, self.train_bank = train_transforms, float(jitter), int(train_bank)
        self.test_transforms, self.feature_batch, self.seed, self.device = (
            int(test_transforms),
            feature_batch,
            seed,
            device,
        )
        resolve_device(device)        # an unavailable device is a clear error here, not at fit
        if self.train_bank < 1:
            raise DefectbookError(f"{self.name}: train_bank must be >= 1, got {train_bank}")
        rotation_angles(self.test_transforms)

    def _fit(self, images: torch.Tensor) -> None:
        self.features_ = MultiTransformFeatures(self.backbone, self.layer, self.weights, self.scales,
                                                self.feature_batch, self.device)
        self.extractor_ = self.features_.extractor
        n = images.shape[0]
        tfs = (random_transforms(n, self.train_bank, self.seed, self.jitter) if self.train_transforms
               else identity_transforms(1))
        feats = self.features_.transformed(images, tfs, f"{self.name} bank")
        self.train_vectors_ = feats.reshape(-1, feats.shape[-1]).double().cpu().numpy()   # scikit-learn: CPU
        self._fit_vectors(self.train_vectors_)

    #: stored: the training vectors; the scikit-learn models and what they give are refitted from them
    #: on load (deterministic and cheap next to the backbone features; no pickled objects)
    _rebuilt = ("device_", "features_", "extractor_", "mu_", "sd_", "pca_", "pmu_", "psd_", "bank_", "svm_")

    def _rebuild(self) -> None:
        self.features_ = MultiTransformFeatures(self.backbone, self.layer, self.weights, self.scales,
                                                self.feature_batch, self.device)
        self.extractor_ = self.features_.extractor
        self._fit_vectors(self.train_vectors_)

    def _predict(self, images: torch.Tensor) -> Prediction:
        tfs = [{"angle": a} for a in rotation_angles(self.test_transforms)]
        feats = self.features_.transformed(images, tfs, f"{self.name} test")      # [N, T, D]
        n, t, d = feats.shape
        s = self._score_vectors(feats.reshape(-1, d).double().cpu().numpy()).reshape(n, t)
        return Prediction(s.mean(1), None)

    def _fit_vectors(self, y: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score_vectors(self, y: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def _effective_pca(asked: int | None, pca) -> dict:
    ran = None if pca is None else int(pca.n_components_)
    return {"effective_params": {"pca": ran}} if ran != asked else {}


@register("knn", label="1-NN")
class NearestNeighbor(_FeatureBaseline):
    """1-NN after PCA to ``pca`` dimensions and z-scoring (``pca=None`` keeps all dimensions)."""

    name = "knn"

    def __init__(self, pca: int | None = 64, **kw):
        check_params("knn", pca=(pca, "int>=1?"))
        super().__init__(**kw)
        self.pca = pca

    def _fit_vectors(self, y: np.ndarray) -> None:
        from sklearn.decomposition import PCA

        self.mu_ = y.mean(0)
        k = None if self.pca is None else min(int(self.pca), y.shape[0] - 1, y.shape[1])
        self.pca_ = PCA(k, random_state=self.seed).fit(y - self.mu_) if k else None
        p = self._project(y)
        sd = p.std(0)
        self.pmu_, self.psd_ = p.mean(0), np.maximum(sd, 1e-6 * sd.max() + 1e-12)   # no blow-up of null directions
        self.bank_ = torch.from_numpy((p - self.pmu_) / self.psd_)

    def extras(self) -> dict:
        """``effective_params``: ``pca`` as it ran where the training vectors allowed fewer components
        (at most their number less one and their dimension; None: no PCA)."""
        return _effective_pca(self.pca, self.pca_)

    def _project(self, y: np.ndarray) -> np.ndarray:
        y = y - self.mu_
        return self.pca_.transform(y) if self.pca_ is not None else y

    def _score_vectors(self, y: np.ndarray) -> np.ndarray:
        q = torch.from_numpy((self._project(y) - self.pmu_) / self.psd_)
        out = [torch.cdist(q[i:i + 512], self.bank_).min(1).values for i in range(0, q.shape[0], 512)]
        return torch.cat(out).numpy()


@register("ocsvm", label="OCSVM")
class OCSVM(_FeatureBaseline):
    """One-class SVM (RBF) on z-scored features; score = ``-decision_function`` (higher = anomalous)."""

    name = "ocsvm"

    def __init__(self, nu: float = 0.5, gamma: str | float = "scale", pca: int | None = None, **kw):
        check_params("ocsvm", nu=(nu, "float(0,1]"), pca=(pca, "int>=1?"))
        if gamma not in ("scale", "auto"):
            check_params("ocsvm", gamma=(gamma, "float>0"))
        super().__init__(**kw)
        if not 0 < nu <= 1:
            raise DefectbookError(f"ocsvm: nu must be in (0, 1], got {nu}")
        self.nu, self.gamma, self.pca = nu, gamma, pca

    def _fit_vectors(self, y: np.ndarray) -> None:
        from sklearn.decomposition import PCA
        from sklearn.svm import OneClassSVM

        sd = y.std(0)
        self.mu_, self.sd_ = y.mean(0), np.maximum(sd, 1e-6 * sd.max() + 1e-12)
        z = (y - self.mu_) / self.sd_
        self.pca_ = PCA(min(int(self.pca), *z.shape), random_state=self.seed).fit(z) if self.pca else None
        self.svm_ = OneClassSVM(kernel="rbf", nu=self.nu, gamma=self.gamma).fit(self._prep(y))

    def extras(self) -> dict:
        """``effective_params``: ``pca`` as it ran where the training vectors allowed fewer components."""
        return _effective_pca(self.pca, self.pca_)

    def _prep(self, y: np.ndarray) -> np.ndarray:
        z = (y - self.mu_) / self.sd_
        return self.pca_.transform(z) if self.pca_ is not None else z

    def _score_vectors(self, y: np.ndarray) -> np.ndarray:
        return -self.svm_.decision_function(self._prep(y))
