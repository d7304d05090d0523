"""The record key of an experiment config (what is hashed, what is not)."""
from __future__ import annotations

import json

from .. import __version__
from ..config import normalize
from ..data import synthetic
from ..data.prepare import data_fingerprint
from ..methods import RECORD_VERSIONS
from .store import config_hash

NOT_HASHED = ("data_root", "profile", "device", "spec")


def key_of(config: dict, fingerprints: dict | None = None, data_digest: str | None = None) -> str:
    """The record key: a hash of the config (less NOT_HASHED), the package version, the method's
    record version (:data:`~defectbook.methods.RECORD_VERSIONS`) and, for synthetic data, the
    generator version (a changed generator must not reuse old records); for real data, the split's
    file fingerprint (:func:`defectbook.data.fingerprint.fingerprint`). ``fingerprints``: a memo the
    caller keeps for keying many records at once (one file listing per split, not per record).
    ``data_digest``: the split's fingerprint digest when it is known already (a bundled record's own,
    ``extras["data"]["fingerprint"]["digest"]``): no file is listed, so a record is keyed where its data
    is absent."""
    c = normalize(config)
    salt = {"version": __version__}
    if c["method"] in RECORD_VERSIONS:
        salt["record"] = RECORD_VERSIONS[c["method"]]
    if c["dataset"] == "synthetic":
        salt["generator"] = synthetic.GENERATOR_VERSION
    elif data_digest is not None:
        salt["data"] = data_digest
    else:  # real data: which files (another, missing or changed root gives another key or an error)
        if fingerprints is None:
            salt["data"] = data_fingerprint(c)["digest"]
        else:
            split = json.dumps({a: b for a, b in c.items() if a not in ("method", "params", "spec", "save_maps")},
                               sort_keys=True, default=str)
            if split not in fingerprints:
                fingerprints[split] = data_fingerprint(c)["digest"]
            salt["data"] = fingerprints[split]
    return config_hash({k: v for k, v in c.items() if k not in NOT_HASHED} | salt)
