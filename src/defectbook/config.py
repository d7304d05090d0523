"""An experiment config's defaults and its normal form (defaults filled, JSON round-tripped).

A config is a plain dict (see :mod:`defectbook.pipeline.run`); :func:`normalize` is shared by the
data layer (which split a config names) and the pipeline (its record key)."""
from __future__ import annotations

import copy
import json

from . import DefectbookError

DEFAULTS = {"params": {}, "category": None, "data": {}, "split": {"kind": "clean"},
            "transform": {"resize": 256, "crop": None}, "seed": 0, "profile": None, "save_maps": 8,
            "data_root": None}


def normalize(config: dict, need_method: bool = True) -> dict:
    """Fill defaults and round-trip through JSON (so tuples and lists hash alike)."""
    if "dataset" not in config or (need_method and "method" not in config):
        raise DefectbookError("an experiment config needs at least 'method' and 'dataset'")
    out = copy.deepcopy(DEFAULTS)
    for k, v in config.items():
        out[k] = v
    return json.loads(json.dumps(out, default=str))


def data_label(config: dict) -> str:
    """``dataset:category`` (``synthetic:wood``, ``mvtec:wood``), or the dataset alone (``mtd``): a
    synthetic category is always named as synthetic, so it is never mistaken for MVTec's."""
    c = config.get("category")
    return f"{config['dataset']}:{c}" if c else str(config["dataset"])
