"""Provenance lines and small table helpers for notebooks."""
from __future__ import annotations

from typing import Iterable

import pandas as pd

from .results import Record


def provenance(records: Iterable[Record], extra: str = "") -> str:
    """One line naming what produced a table or figure: profile, data, backbone, seeds, code version.

    Every table and figure of the book is followed by this line (as Markdown).
    """
    records = list(records)
    if not records:
        return "**Provenance:** no records (nothing was computed)."
    profiles = sorted({str(r.config.get("profile")) for r in records})
    data = sorted({f"{r.config['dataset']}" + (f":{r.config['category']}" if r.config.get("category") else "")
                   for r in records})
    if len(data) > 6:
        data = data[:6] + [f"… ({len(data)} in all)"]
    backbones = sorted({str(r.extras.get("backbone") or "none (trained from scratch)") for r in records})
    seeds = sorted({r.config.get("seed") for r in records})
    methods = sorted({r.config["method"] for r in records})
    sizes = sorted({_size(r.config) for r in records})
    commits = sorted({f"{r.env.get('git_commit')}{'+dirty' if r.env.get('git_dirty') else ''}" for r in records})
    line = (f"**Provenance:** profile={', '.join(profiles)} · data={', '.join(data)} · image size={', '.join(sizes)} · "
            f"methods={', '.join(methods)} · backbone={'; '.join(backbones)} · seeds={', '.join(map(str, seeds))} · "
            f"{len(records)} records · defectbook {records[0].env.get('defectbook')} @ {', '.join(commits)}")
    if any(r.config.get("profile") == "smoke" for r in records):
        line += " · **smoke profile: tiny data and models, the numbers are not meaningful**"
    line += _differences(records)
    if any(r.config.get("dry_run") for r in records):
        line += (" · **dry run: random weights, synthetic stand-ins for the real datasets, a few images and "
                 "training steps: the numbers are not results**")
    return line + (f" · {extra}" if extra else "")


def _differences(records: list[Record]) -> str:
    """`` · params differing from the profile: d=20; ...`` (every value seen), or ``""``."""
    from .spec import differences

    seen: dict[str, list] = {}
    for r in records:
        for k, v in differences(r.config).items():
            if v not in seen.setdefault(k, []):
                seen[k].append(v)
    if not seen:
        return ""
    return " · params differing from the profile: " + "; ".join(
        f"{k}={'|'.join(map(str, vs))}" for k, vs in sorted(seen.items()))


def _size(c: dict) -> str:
    t = c.get("transform", {})
    return f"{t.get('resize')}" + (f"→crop {t['crop']}" if t.get("crop") else "")


def side_by_side(ours: pd.DataFrame, paper: pd.DataFrame, on: list[str], value: str,
                 ours_label: str = "ours", paper_label: str = "paper") -> pd.DataFrame:
    """Join our ``value`` column with the paper's on ``on``, adding the difference (ours - paper)."""
    a = ours[on + [value]].rename(columns={value: ours_label})
    b = paper[on + [value]].rename(columns={value: paper_label})
    out = a.merge(b, on=on, how="outer")
    out["Δ"] = out[ours_label] - out[paper_label]
    return out


def show(md: str) -> None:
    """Display Markdown in a notebook (plain print elsewhere)."""
    try:
        from IPython.display import Markdown, display

        display(Markdown(md))
    except ImportError:  # pragma: no cover
        print(md)
