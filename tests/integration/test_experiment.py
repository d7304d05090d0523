import json

import pytest
from helpers.toy import cfg

from defectbook import DefectbookError
from defectbook.data import prepare as data_prepare
from defectbook.data.prepare import prepare
from defectbook.pipeline import run as experiment
from defectbook.pipeline.keys import key_of
from defectbook.pipeline.store import Store


def test_run_records_everything(toy):
    rec = experiment.run(cfg(toy))
    assert rec.metrics["image_auroc"] > 0.9 and rec.metrics["pixel_auroc"] > 0.8
    assert 0 <= rec.metrics["aupro"] <= 1
    assert rec.timings["fit_s"] > 0 and rec.timings["predict_s"] > 0
    assert rec.memory["peak_rss_mb"] > 100
    assert rec.env["torch"] and "git_commit" in rec.env
    assert rec.labels == [0, 0, 0, 1, 1, 1] and len(rec.scores) == 6
    assert rec.extras["split"]["n_train"] == 8 and "efficientnet_lite0" in rec.extras["backbone"]
    m = rec.maps()
    assert m["maps"].shape[0] == 3 and m["images"].shape[1:] == (48, 48, 3) and m["masks"].max() == 1
    assert (Store().root / f"{rec.key}.json").is_file()


def test_rerun_reuses_the_record(toy, monkeypatch):
    first = experiment.run(cfg(toy))
    monkeypatch.setattr(experiment, "prepare", lambda c: (_ for _ in ()).throw(AssertionError("recomputed")))
    again = experiment.run(cfg(toy, data_root=str(toy) + "/", profile="cpu"))  # unhashed fields differ
    assert again.key == first.key and again.metrics == first.metrics


def test_key_depends_on_what_matters():
    a = key_of({"method": "padim", "dataset": "synthetic", "params": {"d": 10}})
    assert a == key_of({"dataset": "synthetic", "params": {"d": 10}, "method": "padim", "seed": 0})
    assert a != key_of({"method": "padim", "dataset": "synthetic", "params": {"d": 11}})
    assert a != key_of({"method": "padim", "dataset": "synthetic", "params": {"d": 10}, "seed": 1})


def test_key_changes_with_the_synthetic_generator(monkeypatch):
    import defectbook.data.synthetic as synthetic

    c = {"method": "padim", "dataset": "synthetic"}
    a = key_of(c)
    monkeypatch.setattr(synthetic, "GENERATOR_VERSION", synthetic.GENERATOR_VERSION + 1)
    assert key_of(c) != a


def test_killed_batch_resumes_without_redoing_or_broken_records(toy, monkeypatch):
    configs = [cfg(toy, seed=s) for s in range(3)]
    real = prepare
    calls = []

    def flaky(c):
        calls.append(c["seed"])
        if c["seed"] == 1 and len(calls) < 3:
            raise KeyboardInterrupt  # the batch is killed while the second experiment runs
        return real(c)

    monkeypatch.setattr(experiment, "prepare", flaky)
    with pytest.raises(KeyboardInterrupt):
        experiment.run_many(configs)
    store = Store()
    assert len(store) == 1
    recs = experiment.run_many(configs)
    assert calls == [0, 1, 1, 2] and len(store) == 3 and len({r.key for r in recs}) == 3


def test_interrupted_write_leaves_no_record(toy, monkeypatch):
    import defectbook.pipeline.store as results

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(results.np, "savez_compressed", boom)
    with pytest.raises(OSError):
        experiment.run(cfg(toy))
    root = Store().root
    assert not list(root.glob("*.json")) and not list(root.glob("*.npz")) and not list(root.glob("*.tmp"))


def test_corrupt_record_is_recomputed(toy):
    rec = experiment.run(cfg(toy))
    path = Store().path(rec.key)
    path.write_text("{ truncated")
    again = experiment.run(cfg(toy))
    assert json.loads(path.read_text())["key"] == rec.key and again.metrics == rec.metrics


def test_noisy_split_moves_defects_into_training(toy):
    rec = experiment.run(cfg(toy, split={"kind": "noisy", "ratio": 0.1}))
    info = rec.extras["split"]
    assert info["n_train"] >= 8 and info["n_test"] < 6


def test_frame_and_provenance(toy):
    from defectbook.book.report import provenance

    recs = [experiment.run(cfg(toy, seed=s)) for s in (0, 1)]
    df = experiment.frame(recs)
    assert list(df.seed) == [0, 1] and {"image_auroc", "pixel_auroc", "aupro", "fit_s"} <= set(df.columns)
    line = provenance(recs)
    for part in ("profile=smoke", "mvtec:toy", "efficientnet_lite0", "seeds=0, 1", "not meaningful"):
        assert part in line


def test_bad_configs(isolated, monkeypatch):
    monkeypatch.delenv("DEFECTBOOK_DATA", raising=False)
    monkeypatch.setattr(data_prepare, "default_data_root", lambda: None)
    with pytest.raises(DefectbookError, match="needs at least"):
        experiment.run({"method": "padim"})
    with pytest.raises(DefectbookError, match="data root"):
        experiment.run({"method": "padim", "dataset": "mtd"})
