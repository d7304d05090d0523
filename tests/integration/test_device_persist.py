"""Device handling and save/load of every registered method (tiny sizes, CPU)."""
import json

import numpy as np
import pytest
import torch
from helpers.toy import cfg

from defectbook import DefectbookError
from defectbook.methods import REGISTRY, build
from defectbook.methods.base import Detector, _meta_checksum, code_version
from defectbook.utils import resolve_device

pytestmark = pytest.mark.usefixtures("one_thread")

FEAT = dict(layer="layer3", scales=[1.0, 0.5], feature_batch=8)
#: every registered method at a tiny size (CPU seconds)
TINY = {
    "padim": dict(d=16, batch_size=8),
    "patchcore": dict(target_dim=64, coreset_ratio=0.2, proj_dim=16, num_neighbors=3),
    "spade": dict(k_images=3, layers=["layer1", "layer2"], global_layer="layer3"),
    "npad": dict(d=16, train_radius=1, infer_radius=1, shift=1, kmeans_iters=3, batch_size=8),
    "differnet": dict(FEAT, n_blocks=2, width=16, hidden_layers=1, batch_size=8, train_bank=2, epochs=2,
                      test_transforms=2, snapshots=1),
    "knn": dict(FEAT, train_bank=2, test_transforms=2, pca=8),
    "ocsvm": dict(FEAT, train_bank=2, test_transforms=2),
    "trustmae": dict(width=4, latent=16, n_down=2, slots=8, k=2, epochs=1, batch_size=4, feature_net="offline",
                     disc_width=4, disc_layers=2, perceptual_net="offline"),
    "memae": dict(width=0.1, latent=16, slots=8, epochs=1, batch_size=4),
    "ae_l2": dict(width=0.25, latent=8, epochs=1, batch_size=4),
    "ae_ssim": dict(width=0.25, latent=8, epochs=1, batch_size=4),
    "ensemble": dict(method="padim", sizes=[32, None], d=8, batch_size=8),
    "ndpnet": dict(widths=[4, 8, 8, 16, 16], seg_width=8, ffm_channels=8, epochs=1, epochs2=1, batch_size=4,
                   perceptual="offline", augment=False),
}


def test_every_method_has_a_tiny_setting():
    assert set(TINY) == set(REGISTRY)


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    train = torch.rand(6, 3, 64, 64, generator=g) * 0.2 + 0.4
    test = torch.rand(3, 3, 64, 64, generator=g) * 0.2 + 0.4
    test[0, :, 20:36, 20:36] = 1.0
    return train, test


@pytest.mark.parametrize("method", sorted(TINY))
def test_runs_on_cpu_and_round_trips_exactly(method, images, tmp_path):
    train, test = images
    det = build(method, device="cpu", **TINY[method]).fit(train)
    for name, v in [*det.state_dict().items(), *vars(det).items()]:   # fitted tensors live on the asked device
        if isinstance(v, torch.Tensor):
            assert v.device.type == "cpu", name
    state = det.state_dict()                               # the fitted state: buffers and trained weights
    assert not any("extractor" in k or "features_" in k for k in state), "a frozen backbone is stored"
    assert any(isinstance(v, torch.Tensor) for v in state.values()) or method in ("knn", "ocsvm"), sorted(state)
    before = det.predict(test)
    assert np.isfinite(before.image_scores).all()
    path = det.save(tmp_path / method)
    meta = json.loads((path / "params.json").read_text())
    assert meta["method"] == method and meta["code_version"] == code_version()
    loaded = Detector.load(path, device="cpu")
    assert type(loaded) is type(det) and loaded.get_params()["device"] == "cpu"
    after = loaded.predict(test)
    np.testing.assert_array_equal(after.image_scores, before.image_scores)
    if before.maps is None:
        assert after.maps is None
    else:
        np.testing.assert_array_equal(after.maps, before.maps)


def test_fitted_statistics_are_buffers_of_the_fitted_shape(images):
    """PaDiM's Gaussians are buffers; a new detector takes their shapes from the state it loads."""
    det = build("padim", **TINY["padim"]).fit(images[0])
    state = det.state_dict()
    assert state["gaussians_.chol"].shape[1:] == (16, 16) and state["idx_"].shape == (16,)
    fresh = build("padim", **TINY["padim"])
    fresh.load_state_dict(state)
    assert torch.equal(fresh.gaussians_.chol, state["gaussians_.chol"]) and fresh.fitted_
    np.testing.assert_array_equal(fresh.predict(images[1]).maps, det.predict(images[1]).maps)


def test_state_is_read_with_weights_only(images, tmp_path):
    det = build("padim", **TINY["padim"]).fit(images[0])
    path = det.save(tmp_path / "m")
    torch.load(path / "state.pt", weights_only=True)        # raises if anything but tensors/plain data
    with pytest.raises(DefectbookError, match="only a fitted"):
        build("padim").save(tmp_path / "x")
    with pytest.raises(DefectbookError, match="no saved detector"):
        Detector.load(tmp_path / "nothing")


def test_other_code_version_is_refused(images, tmp_path):
    path = build("padim", **TINY["padim"]).fit(images[0]).save(tmp_path / "m")
    meta = json.loads((path / "params.json").read_text())
    meta["code_version"] = "0" * 16
    (path / "params.json").write_text(json.dumps(meta))
    with pytest.raises(DefectbookError, match="fails its checksum"):      # an edit is caught first
        Detector.load(path)
    meta["checksum"] = _meta_checksum(meta)                                 # as other code would have written it
    (path / "params.json").write_text(json.dumps(meta))
    with pytest.raises(DefectbookError, match="other model code"):
        Detector.load(path)


def test_auto_and_cpu_devices():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(DefectbookError, match="unknown device"):
        resolve_device("gpu0")


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_cuda_is_a_clear_error(device, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(DefectbookError, match="CUDA is not available"):
        resolve_device(device)
    for method in REGISTRY:                                 # every detector checks at construction
        if method == "ensemble":
            continue
        with pytest.raises(DefectbookError, match="CUDA is not available"):
            build(method, device=device)


def test_missing_gpu_index_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(DefectbookError, match="1 CUDA device"):
        resolve_device("cuda:1")


# --- the experiment runner: device from the config, records, kept models, logging ----------------------

def test_build_detector_resolves_the_config_device(monkeypatch):
    from defectbook.pipeline.models import build_detector

    c = {"method": "trustmae", "dataset": "synthetic", "params": {"epochs": 1}, "device": "auto"}
    assert build_detector(c).device == ("cuda" if torch.cuda.is_available() else "cpu")
    c = {"method": "padim", "dataset": "synthetic", "params": {"device": "cpu"}, "device": "cuda"}
    assert build_detector(c).device == "cpu"                 # the method's own setting wins
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DefectbookError, match="CUDA is not available"):
        build_detector({"method": "padim", "dataset": "synthetic", "device": "cuda"})
    assert build_detector({"method": "ensemble", "dataset": "synthetic", "params": {"method": "padim"}}
                                     ).params["device"] == "cpu"


def test_run_records_device_logs_and_keeps_the_model(toy, caplog):
    import logging

    from defectbook.pipeline import run as experiment
    from defectbook.pipeline.models import model_path

    c = cfg(toy, device="cpu")
    with caplog.at_level(logging.INFO, logger="defectbook"):
        rec = experiment.run(c)
    assert rec.extras["device"] == "cpu"
    line = [r.getMessage() for r in caplog.records if "fit " in r.getMessage()][-1]
    assert rec.key in line and "padim" in line and "mvtec:toy" in line and "device=cpu" in line
    assert "image_auroc=" in line
    path = model_path(c)
    assert (path / "state.pt").is_file()                                  # small model: kept by run()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="defectbook"):
        det, prep = experiment.fitted(c)
    assert any("loaded" in r.getMessage() for r in caplog.records)
    np.testing.assert_allclose(det.predict(prep.test).image_scores, rec.scores, rtol=0, atol=0)


def test_fitted_trains_once_and_a_changed_config_never_reuses(toy, caplog, monkeypatch):
    import logging

    from defectbook.pipeline import run as experiment
    from defectbook.pipeline.models import model_path

    monkeypatch.setenv("DEFECTBOOK_MODEL_LIMIT_MB", "0")                  # run() keeps nothing
    c = cfg(toy, device="cpu")
    experiment.run(c)
    assert not model_path(c).exists()
    with caplog.at_level(logging.INFO, logger="defectbook"):
        experiment.fitted(c)
        experiment.fitted(c)
    msgs = [r.getMessage() for r in caplog.records]
    assert sum("fitted in" in m for m in msgs) == 1 and sum("loaded" in m for m in msgs) == 1
    other = cfg(toy, device="cpu", params={"d": 8, "batch_size": 8})
    assert model_path(other) != model_path(c)
    assert not model_path(other).exists()


# --- benchmarks/gpu_check.py: its harness on the CPU, its message without CUDA ---------------------------

def _gpu_check():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_gpu_check_without_cuda_says_so(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _gpu_check().main(["--methods", "padim"]) == 1
    assert "CUDA is not available" in capsys.readouterr().err


def test_gpu_check_harness_on_cpu(capsys):
    gc = _gpu_check()
    assert set(gc.PAPER) == set(REGISTRY)                  # every method is checked
    assert gc.main(["--smoke", "--device", "cpu", "--methods", "padim", "ae_l2", "--n-train", "4",
                    "--n-test", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 ok, 0 failed" in out and "padim" in out and "ae_l2" in out
