"""Every committed bundled record loads, passes its checksum and sits under its own key; its staleness
(whether today's code keys its config otherwise) is computed and reported, never an error."""
import warnings

import pytest

from defectbook.pipeline import bundle

BUNDLES = [bundle.default_root(bundle.SCALE), bundle.default_root(bundle.GPU)]


@pytest.mark.parametrize("root", BUNDLES, ids=lambda p: p.name)
def test_every_bundled_record_and_manifest_passes_its_checks(root):
    b = bundle.read(root)
    failed = [f"{k}: {r.why}" for k, r in b.records.items() if not r.ok]
    assert not failed, f"bundled records that fail their checks in {root}: {failed}"
    assert all(r.ok for r in b.rungs), [f"{r.claim}/{r.rung}: {r.why}" for r in b.rungs if not r.ok]
    named = {k for r in b.rungs for k in r.manifest.get("keys", [])}
    assert named <= set(b.records), f"manifests name records the bundle lacks: {sorted(named - set(b.records))}"
    for r in b.records.values():
        assert r.stale in (True, False), f"record {r.key} could not be keyed with today's code: {r.why}"
    stale = sorted(k for k, r in b.records.items() if r.stale)
    if stale:
        warnings.warn(f"{len(stale)} stale records in {root} (their rungs are shown as stale): {stale[:5]}",
                      stacklevel=1)
