"""Nothing the program stored is used unchecked: saved models (no code runs from a model folder),
records, example maps, the model store, images given through the Python API, writes on a full disk,
concurrent model saves, permissions, and ``defectbook store verify``.

Every case builds its store, and what it damages, in a temporary folder.
"""
import errno
import json
import logging
import multiprocessing
import os
import shutil
import stat

import numpy as np
import pytest
import torch
from helpers.toy import cfg

from defectbook import DefectbookError
from defectbook.cli import main as cli_main
from defectbook.methods import build
from defectbook.methods.base import Detector, _meta_checksum
from defectbook.paths import file_sha256
from defectbook.pipeline import run as experiment
from defectbook.pipeline import store as results
from defectbook.pipeline.keys import key_of
from defectbook.pipeline.models import load_model, model_path
from defectbook.pipeline.store import Store

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def padim_folder(tmp_path):
    """A genuine saved PaDiM model."""
    g = torch.Generator().manual_seed(0)
    det = build("padim", d=8, batch_size=8).fit(torch.rand(4, 3, 32, 32, generator=g))
    return det.save(tmp_path / "model")


def _rewrite_meta(folder, **changes):
    """Edit ``params.json`` the way an attacker would: with a freshly computed checksum (it is no secret)."""
    meta = json.loads((folder / "params.json").read_text())
    meta.update(changes)
    meta["checksum"] = _meta_checksum(meta)
    (folder / "params.json").write_text(json.dumps(meta))
    return meta


# --- a model folder runs no code -------------------------------------------------------------------

def test_a_crafted_model_folder_cannot_run_code(padim_folder, tmp_path, monkeypatch):
    """The attack: params.json names the CLI's entry point with arguments of its own; loading the
    folder must refuse it before calling anything."""
    called = []
    monkeypatch.setattr("defectbook.cli.main", lambda *a, **k: called.append((a, k)) or 0)
    target = tmp_path / "written_by_the_attack"
    _rewrite_meta(padim_folder, **{"class": "defectbook.cli:main", "method": "padim",
                                   "params": {"argv": ["data", "synth", str(target), "--size", "8"]}})
    with pytest.raises(DefectbookError, match="registered class"):
        Detector.load(padim_folder)
    assert not called and not target.exists()
    for cls, method in (("defectbook.cli:main", "cli"), ("os:system", "padim"),
                        ("defectbook.methods.knn:OCSVM", "padim")):        # a registered class under another name
        _rewrite_meta(padim_folder, **{"class": cls, "method": method})
        with pytest.raises(DefectbookError, match="registered class"):
            Detector.load(padim_folder)
    assert not called


def test_saved_parameters_are_validated_as_for_build(padim_folder):
    meta = json.loads((padim_folder / "params.json").read_text())
    _rewrite_meta(padim_folder, params=meta["params"] | {"argv": ["x"]})
    with pytest.raises(DefectbookError, match="unknown parameter argv"):
        Detector.load(padim_folder)
    _rewrite_meta(padim_folder, params=meta["params"] | {"d": -3})
    with pytest.raises(DefectbookError, match="parameter d"):
        Detector.load(padim_folder)


def test_a_state_file_can_set_fitted_values_only(padim_folder):
    """``state.pt`` holds tensors and plain values; its extra state may not name a parameter (which
    would change what ``_rebuild`` builds) nor an attribute outside the fitted ones."""
    clean = torch.load(padim_folder / "state.pt", weights_only=True)
    for crafted in ({"backbone": "resnet50"}, {"_init_params": {}}, {"extractor_": None}):
        state = dict(clean, _extra_state=clean["_extra_state"] | crafted)
        torch.save(state, padim_folder / "state.pt")
        _rewrite_meta(padim_folder, state_sha256=file_sha256(padim_folder / "state.pt"))
        with pytest.raises(DefectbookError, match="not fitted values: refused"):
            Detector.load(padim_folder)
    state = dict(clean, extra_weights=torch.zeros(3), **{"gaussians_.mean": torch.zeros(2, 2)})
    torch.save(state, padim_folder / "state.pt")
    _rewrite_meta(padim_folder, state_sha256=file_sha256(padim_folder / "state.pt"))
    with pytest.raises(DefectbookError, match="does not fit a padim"):
        Detector.load(padim_folder)


def test_hand_edits_and_damaged_state_are_refused(padim_folder):
    meta = json.loads((padim_folder / "params.json").read_text())
    meta["params"]["d"] = 4                                                # an edit without a new checksum
    (padim_folder / "params.json").write_text(json.dumps(meta))
    with pytest.raises(DefectbookError, match="fails its checksum"):
        Detector.load(padim_folder)
    meta = _rewrite_meta(padim_folder, params=meta["params"] | {"d": 8})
    blob = bytearray((padim_folder / "state.pt").read_bytes())
    blob[len(blob) // 2] ^= 0xFF                                            # one flipped byte
    (padim_folder / "state.pt").write_bytes(bytes(blob))
    with pytest.raises(DefectbookError, match="not the state saved with"):
        Detector.load(padim_folder)
    (padim_folder / "params.json").write_text("{not json")
    with pytest.raises(DefectbookError, match="not readable JSON"):
        Detector.load(padim_folder)


# --- the model store checks the model against the config ------------------------------------------

def test_model_store_refuses_another_configs_model_and_refits(toy, caplog):
    a = cfg(toy)
    b = cfg(toy, params={"d": 8, "batch_size": 8})
    experiment.run(a)
    experiment.run(b)
    pa, pb = model_path(a), model_path(b)
    assert isinstance(load_model(a, "cpu"), Detector)
    shutil.rmtree(pa)
    shutil.copytree(pb, pa)                                                 # another config's model, intact
    with pytest.raises(DefectbookError, match="not saved for this config.*key.*parameters d"):
        load_model(a, "cpu")
    _rewrite_meta(pa, key=key_of(a))                             # even with the key rewritten
    with pytest.raises(DefectbookError, match="parameters d differ"):
        load_model(a, "cpu")
    with caplog.at_level(logging.INFO, logger="defectbook"):
        det, prep = experiment.fitted(a)
    msgs = " ".join(r.getMessage() for r in caplog.records)
    assert "saved model refused" in msgs and "fitted in" in msgs
    assert det.get_params()["d"] == 16
    assert load_model(a, "cpu").get_params()["d"] == 16         # the refit was saved in its place


def test_another_methods_model_is_refused(toy):
    a = cfg(toy)
    experiment.run(a)
    pa = model_path(a)
    g = torch.Generator().manual_seed(0)
    other = build("spade", k_images=2, layers=["layer1"], global_layer="layer3").fit(
        torch.rand(3, 3, 32, 32, generator=g)
    )
    other.save(pa, key=key_of(a))
    with pytest.raises(DefectbookError, match="method 'spade' instead of 'padim'"):
        load_model(a, "cpu")


def test_two_processes_saving_one_model_folder(tmp_path):
    g = torch.Generator().manual_seed(0)
    det = build("padim", d=8, batch_size=8).fit(torch.rand(4, 3, 32, 32, generator=g))
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_save_many, args=(det, tmp_path / "m")) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert Detector.load(tmp_path / "m").get_params()["d"] == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.lock", "m"]    # no temporary folder left


def _save_many(det, path):
    for _ in range(8):
        det.save(path)


# --- records and example maps ---------------------------------------------------------------------

def test_a_record_copied_onto_another_keys_name_is_not_served(toy):
    a, b = experiment.run(cfg(toy)), experiment.run(cfg(toy, seed=1))
    store = Store()
    shutil.copy(store.path(a.key), store.path(b.key))
    shutil.copy(store.root / f"{a.key}.npz", store.root / f"{b.key}.npz")
    with pytest.warns(UserWarning, match=f"holds the record of key {a.key}"):
        assert store.get(b.key) is None
    again = experiment.run(cfg(toy, seed=1))                                # recomputed under its own key
    assert again.key == b.key and again.config["seed"] == 1 and store.get(b.key) is not None


def test_example_maps_are_covered_by_the_records_checksum(toy):
    a, b = experiment.run(cfg(toy)), experiment.run(cfg(toy, seed=1))
    store = Store()
    assert store.get(a.key).maps_sha256 == file_sha256(store.root / f"{a.key}.npz")
    shutil.copy(store.root / f"{b.key}.npz", store.root / f"{a.key}.npz")  # valid maps, another record's
    with pytest.warns(UserWarning, match="changed or damaged"):
        assert store.get(a.key) is None
    with pytest.raises(DefectbookError, match="changed or damaged"):
        a.maps()
    (store.root / f"{a.key}.npz").unlink()
    with pytest.warns(UserWarning, match="missing"):
        assert store.get(a.key) is None
    fresh = experiment.run(cfg(toy))
    np.testing.assert_array_equal(fresh.maps()["index"], fresh.maps()["index"])
    assert store.get(a.key) is not None and fresh.maps()["maps"].shape[0] == 3


def test_a_full_disk_while_writing_a_record_is_one_clear_error(toy, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:          # undone on leaving; the toy store's settings stay
        m.setattr(results.os, "fsync", full)
        with pytest.raises(DefectbookError, match="no space left on the device.*nothing partial"):
            experiment.run(cfg(toy))
    root = Store().root
    assert not list(root.glob("*.json")) and not list(root.glob("*.tmp")) and not list(root.glob("*.npz"))
    assert cli_main(["store", "verify", "--no-rekey"]) == 0


def test_records_and_models_follow_the_umask(toy):
    old = os.umask(0o022)
    try:
        rec = experiment.run(cfg(toy))
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)                         # noqa: E731
    store = Store()
    assert mode(store.path(rec.key)) == 0o644 and mode(store.root / f"{rec.key}.npz") == 0o644
    folder = model_path(cfg(toy))
    assert mode(folder) == 0o755 and mode(folder / "params.json") == 0o644 and mode(folder / "state.pt") == 0o644


# --- images given through the Python API ----------------------------------------------------------

def test_integer_out_of_range_and_nan_images_are_refused():
    det = build("padim", d=8, batch_size=8)
    g = torch.Generator().manual_seed(0)
    good = torch.rand(4, 3, 32, 32, generator=g)
    with pytest.raises(DefectbookError, match=r"floats in \[0, 1\], got uint8.*/ 255"):
        det.fit((good * 255).to(torch.uint8))
    with pytest.raises(DefectbookError, match=r"lie in \[0, 1\].*divide by 255"):
        det.fit(good * 255)
    bad = good.clone()
    bad[2, 0, 5, 5] = float("nan")
    with pytest.raises(DefectbookError, match="NaN or infinite values.*image 2"):
        det.fit(bad)
    det.fit(good)
    with pytest.raises(DefectbookError, match="NaN or infinite"):
        det.predict(bad)
    assert np.isfinite(det.predict(good).maps).all()


# --- defectbook store verify ----------------------------------------------------------------------

def test_store_verify_reports_every_refused_artifact_and_removes_them(toy, capsys):
    a, b = experiment.run(cfg(toy)), experiment.run(cfg(toy, seed=1))
    assert cli_main(["store", "verify"]) == 0
    out = capsys.readouterr().out
    assert "checked 2 records, 2 models" in out and "0 refused" in out
    store = Store()
    data = json.loads(store.path(a.key).read_text())
    data["metrics"]["image_auroc"] = 0.123                                  # a hand edit
    store.path(a.key).write_text(json.dumps(data))
    model = model_path(cfg(toy, seed=1))
    blob = bytearray((model / "state.pt").read_bytes())
    blob[-10] ^= 0xFF
    (model / "state.pt").write_bytes(bytes(blob))
    assert cli_main(["store", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"{a.key}.json: fails its checksum" in out and "not the state saved with" in out
    assert "2 refused" in out
    assert cli_main(["store", "verify", "--remove"]) == 0
    assert "removed 2 refused artifacts" in capsys.readouterr().out
    assert not store.path(a.key).exists() and not model.exists() and store.get(b.key) is not None
    assert cli_main(["store", "verify"]) == 0


def test_store_verify_flags_a_stale_record_without_refusing_it(toy, capsys):
    rec = experiment.run(cfg(toy))
    data = json.loads(Store().path(rec.key).read_text())
    data["config"]["seed"] = 5                                             # today's code keys this config otherwise
    data["checksum"] = results.record_checksum(data)
    Store().path(rec.key).write_text(json.dumps(data))
    assert cli_main(["store", "verify", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["findings"]
    assert [(f["kind"], f["refused"]) for f in found] == [("record", False)] and "stale" in found[0]["problem"]
