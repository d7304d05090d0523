"""Transcriptions of the papers' tables (facts), one CSV per table, for side-by-side columns.

Each CSV (but ``tolerances.csv``) starts with comment lines (``#``) naming the paper, the table and
its units; values are in percent as printed in the paper, converted to fractions by :func:`load`
(``scale=0.01``).
``tolerances.csv`` and ``reproductions.yaml`` declare, beside them, the generated reproducibility
report's tolerances and which cells the book reproduces (:mod:`defectbook.book.reproducibility`).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ... import DefectbookError

_HERE = Path(__file__).parent


def available() -> list[str]:
    return sorted(p.stem for p in _HERE.glob("*.csv") if p.stem != "tolerances")


def load(name: str, scale: float = 0.01) -> pd.DataFrame:
    """The table ``name`` (file stem); numeric columns multiplied by ``scale`` (percent -> fraction)."""
    p = _HERE / f"{name}.csv"
    if not p.is_file():
        raise DefectbookError(f"no paper values {name!r}; available: {', '.join(available())}")
    df = pd.read_csv(p, comment="#", skipinitialspace=True)
    for col in df.columns:
        if pd.api.types.is_numeric_dtype(df[col]):
            df[col] = df[col] * scale
    return df
