import json

import pytest
from helpers.bundles import fake_record, tiny_bundle

from defectbook.pipeline import bundle
from defectbook.pipeline.store import Store, record_checksum


@pytest.fixture
def store(isolated):
    return Store(isolated / "results")


def test_a_written_rung_reads_back_with_its_records_intact_and_current(store, tmp_path):
    root = tmp_path / "b"
    tiny_bundle(root, store, "npad.vs_padim_patchcore_real", [("r0", 0.1), ("r1", 0.05)],
                [("npad − padim", "mtd:")])
    b = bundle.read(root)
    assert [(r.claim, r.rung) for r in b.rungs] == [("npad.vs_padim_patchcore_real", "r0"),
                                                   ("npad.vs_padim_patchcore_real", "r1")]
    assert b.problems() == []
    r0 = b.rungs[0]
    assert not r0.stale and r0.manifest["effects"][0]["difference"] == 0.1
    assert r0.records[0].record.scores == [0.1, 0.9, 0.4, 0.8] and r0.records[0].status == "ok"
    for k in ("command", "commit", "date", "machine", "threads", "wall_s", "keys"):
        assert k in r0.manifest
    # the bundled JSON is the store's, byte for byte (maps stay behind)
    k = r0.records[0].key
    assert (root / "records" / f"{k}.json").read_bytes() == store.path(k).read_bytes()
    assert bundle.finished(root, "npad.vs_padim_patchcore_real", "r1")
    assert not bundle.finished(root, "npad.vs_padim_patchcore_real", "r2")


def test_an_edited_record_fails_its_checksum_and_its_rung_is_stale(store, tmp_path):
    root = tmp_path / "b"
    tiny_bundle(root, store, "c", [("r0", 0.1)], [("a − b", "mtd:")])
    p = next((root / "records").glob("*.json"))
    data = json.loads(p.read_text())
    data["scores"][0] = 0.99
    p.write_text(json.dumps(data))
    b = bundle.read(root)
    assert not b.records[p.stem].ok and "checksum" in b.records[p.stem].why
    assert b.rungs[0].stale and "fails its checksum" in b.problems()[0]


def test_a_record_whose_config_today_keys_otherwise_is_stale_not_dropped(store, tmp_path):
    root = tmp_path / "b"
    tiny_bundle(root, store, "c", [("r0", 0.1)], [("a − b", "mtd:")])
    p = next((root / "records").glob("*.json"))
    data = json.loads(p.read_text())
    data["config"]["seed"] = 7            # as if the code that keyed it had changed: checksum renewed, key kept
    data["checksum"] = record_checksum(data)
    p.write_text(json.dumps(data))
    b = bundle.read(root)
    br = b.records[p.stem]
    assert br.ok and br.stale and br.today_key != br.key and br.status == "stale"
    assert b.rungs[0].stale and b.rungs[0].records[0].record is not None


def test_a_manifest_edited_or_naming_a_missing_record_is_reported(store, tmp_path):
    root = tmp_path / "b"
    tiny_bundle(root, store, "c", [("r0", 0.1)], [("a − b", "mtd:")])
    m = root / "rungs" / "c" / "r0.json"
    data = json.loads(m.read_text())
    data["effects"][0]["difference"] = 0.5
    m.write_text(json.dumps(data))
    assert not bundle.read(root).rungs[0].ok
    data["effects"][0]["difference"] = 0.1
    m.write_text(json.dumps(data))
    assert bundle.read(root).rungs[0].ok
    for p in (root / "records").glob("*.json"):
        p.unlink()
    assert "missing" in bundle.read(root).problems()[0]


def test_an_absent_bundle_is_empty(tmp_path):
    b = bundle.read(tmp_path / "none")
    assert b.rungs == [] and b.records == {} and b.problems() == []


def test_seed_store_copies_intact_records_only(store, tmp_path):
    other = Store(tmp_path / "other")
    good, bad = fake_record(other, seed=1), fake_record(other, seed=2)
    data = json.loads(other.path(bad.key).read_text())
    data["scores"][0] = 0.5
    other.path(bad.key).write_text(json.dumps(data))
    assert bundle.seed_store([good.key, bad.key, "0" * 16], other.root, store) == 1
    assert store.get(good.key).scores == good.scores and not store.path(bad.key).exists()
    assert bundle.seed_store([good.key], other.root, store) == 0       # already there
