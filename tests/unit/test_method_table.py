"""The method table: each method's name, label and record version come from its ``@register`` line,
and the record keys they salt stay the keys computed before that table existed."""
from __future__ import annotations

import dataclasses
import inspect

import pytest

import defectbook
from defectbook.data import synthetic
from defectbook.methods import RECORD_VERSIONS, REGISTRY, registry
from defectbook.pipeline import spec
from defectbook.pipeline.keys import key_of

#: record keys of one synthetic config per method (and one with a parameter), computed with the
#: former hand-written tables at package version 0.1.0 and synthetic generator version 3
PINNED = {
    "ae_l2": ("6d23eab72ac7660b", "e6b61f389cf635ef"), "ae_ssim": ("af06da0171f6f8bc", "71c1c2ef3dee4714"),
    "differnet": ("92f0698c64f55a9c", "a386b66c70e2853b"), "ensemble": ("dfe0a84b25cf9bec", "80eab2e49a4323f9"),
    "knn": ("4eefdec142899f8e", "bd44729a988734b8"), "memae": ("c85ffed75c8f3d02", "6be4678ced3a4615"),
    "ndpnet": ("ae2f04b228e2d0a4", "49634c38e2ff3abb"), "npad": ("6e340f2f8c25285a", "3e240edea347a6df"),
    "ocsvm": ("0c19521f2fbe8b93", "23b0cc066078a09f"), "padim": ("e8894044a4feafdd", "3b4aeab5f5a8b00d"),
    "patchcore": ("71a9c485bcf9d2bc", "91636d1a988d7fe0"), "spade": ("57cabf4a1df1032f", "f709c39137bde72e"),
    "trustmae": ("65b4e168f3e15b71", "fb47746064e3704b"),
}
#: the display names and record versions the former tables held
LABELS = {"padim": "PaDiM", "npad": "N-pad", "patchcore": "PatchCore", "spade": "SPADE", "differnet": "DifferNet",
          "ocsvm": "OCSVM", "knn": "1-NN", "trustmae": "TrustMAE", "memae": "MemAE", "ae_l2": "AE-MSE",
          "ae_ssim": "AE-SSIM", "ensemble": "ensemble", "ndpnet": "NDP-Net"}
VERSIONS = {"npad": 2, "differnet": 2, "trustmae": 2}


def _cfg(method: str, params: dict) -> dict:
    return {"method": method, "dataset": "synthetic", "category": "weave", "params": params}


@pytest.mark.skipif((defectbook.__version__, synthetic.GENERATOR_VERSION) != ("0.1.0", 3),
                    reason="the pinned keys hold for package 0.1.0 and generator 3 only")
@pytest.mark.parametrize("method", sorted(PINNED))
def test_record_keys_are_unchanged(method):
    assert (key_of(_cfg(method, {})), key_of(_cfg(method, {"batch_size": 4}))) == PINNED[method]


def test_every_registered_method_is_pinned_and_the_views_match_the_former_tables():
    assert set(REGISTRY) == set(PINNED) == set(LABELS)
    assert dict(RECORD_VERSIONS) == VERSIONS
    assert dict(spec.LABELS) == LABELS
    for name, target in REGISTRY.items():
        module, qual = target.split(":")
        klass = registry.method(name).klass
        assert (klass.__module__, klass.__qualname__) == (module, qual)


def test_a_record_version_salts_only_its_own_method(monkeypatch):
    before, other = key_of(_cfg("npad", {})), key_of(_cfg("padim", {}))
    entry = registry.method("npad")
    monkeypatch.setitem(registry._METHODS, "npad", dataclasses.replace(entry, record_version=entry.record_version + 1))
    assert RECORD_VERSIONS["npad"] == VERSIONS["npad"] + 1
    assert key_of(_cfg("npad", {})) != before
    assert key_of(_cfg("padim", {})) == other


def test_a_name_registers_once():
    with pytest.raises(ValueError, match="padim"):
        registry.register("padim", label="again")(type("Other", (), {}))


def test_one_signature_walker_follows_var_keywords_up_the_bases():
    from defectbook.methods.memae import MemAE

    sig = registry.parameters(MemAE)
    assert "slots" in sig and "epochs" in sig and "device" in sig        # own, then its base's
    assert all(isinstance(p, inspect.Parameter) for p in sig.values())
    assert registry.parameter_names(MemAE) == set(sig)
    assert spec.method_signature("memae") == sig
    assert registry.parameter_names(registry.method("ensemble").klass) is None     # ends in **params
    assert "**" in spec.method_signature("ensemble")
