"""Batch execution of the book's notebooks (papermill) and the Jupyter Book build.

Notebook sources are jupytext percent-format files ``notebooks/<group>/<name>.py``; executed
copies go to ``book/executed/<group>/<name>.ipynb``, which ``_toc.yml`` names. A failing
notebook does not stop the batch: its partly executed copy (with the error) is kept, the summary
marks it, and the exit status is non-zero.

``dry_run=True`` (``defectbook reproduce --profile paper --dry-run``) executes the notebooks at the
profile's settings on a replica data root (:mod:`defectbook.data.replica`: the real datasets' names
and layouts, synthetic pictures), with data and training capped, grids thinned and random weights
(:mod:`defectbook.spec`, "Dry run"); records, executed notebooks and data go under
``<cache>/dry-run/`` so they never mix with the book's.
"""
from __future__ import annotations

import fnmatch
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import DefectbookError
from .paths import repo_root
from .profiles import PROFILES

GROUPS = {  # group -> (part caption, order)
    "padim": ("Foundation: PaDiM end to end", 0),
    "npad": ("N-pad (neighbouring pixels)", 1),
    "differnet": ("DifferNet (normalizing flow)", 2),
    "trustmae": ("TrustMAE (memory-augmented auto-encoder)", 3),
    "ndpnet": ("NDP-Net (defect perception)", 4),
    "benchmark": ("Beyond the papers: benchmarks", 5),
}


def root() -> Path:
    r = repo_root()
    if r is None:
        raise DefectbookError("the book commands need the source checkout (pip install -e .)")
    return r


def discover(only: str | list[str] | None = None, base: Path | None = None) -> list[Path]:
    """Notebook sources under ``notebooks/``, ordered by group, filtered by glob(s) on ``group/name``."""
    base = base or root() / "notebooks"
    nbs = [p for p in base.glob("*/*.py") if not p.name.startswith("_")]
    if only:
        pats = [only] if isinstance(only, str) else list(only)
        nbs = [p for p in nbs if any(fnmatch.fnmatch(f"{p.parent.name}/{p.stem}", pat) or fnmatch.fnmatch(p.stem, pat)
                                     for pat in pats)]
    return sorted(nbs, key=lambda p: (GROUPS.get(p.parent.name, ("", 99))[1], p.parent.name, p.stem))


def executed_path(nb: Path, out_dir: Path | None = None) -> Path:
    return (out_dir or root() / "book" / "executed") / nb.parent.name / f"{nb.stem}.ipynb"


@dataclass
class Outcome:
    notebook: str
    status: str
    seconds: float
    error: str = ""


def parse_params(items: list[str] | None) -> dict:
    """``["KEY=VALUE", ...]`` -> dict, values parsed as YAML (numbers, lists, booleans)."""
    out = {}
    for it in items or []:
        if "=" not in it:
            raise DefectbookError(f"parameter {it!r} must look like KEY=VALUE")
        k, v = it.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def execute(nb: Path, out: Path, profile: str, params: dict | None = None, timeout: int | None = None) -> Outcome:
    """Execute one notebook source with papermill; never raises for a notebook error."""
    import jupytext
    import nbformat
    import papermill as pm

    if profile not in PROFILES:
        raise DefectbookError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    name = f"{nb.parent.name}/{nb.stem}"
    out.parent.mkdir(parents=True, exist_ok=True)
    os.environ["DEFECTBOOK_PROGRESS"] = "0"
    os.environ["DEFECTBOOK_BATCH"] = "1"
    t0 = time.perf_counter()
    notebook = jupytext.read(nb)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{nb.stem}.ipynb"
        nbformat.write(notebook, src)
        try:
            pm.execute_notebook(str(src), str(out), parameters={"profile": profile, **(params or {})},
                                kernel_name="python3", cwd=str(nb.parent), progress_bar=False,
                                execution_timeout=timeout, report_mode=False)
            return Outcome(name, "ok", time.perf_counter() - t0)
        except Exception as e:  # noqa: BLE001 - papermill raises PapermillExecutionError and others
            msg = str(e).strip().splitlines()
            err = next((line for line in reversed(msg) if line.strip()), e.__class__.__name__)
            return Outcome(name, "FAILED", time.perf_counter() - t0, err[:300])


#: The dry-run notebooks CI executes (tests/test_spec.py, marked slow): every dataset loader (MVTec AD,
#: MTD, DAGM), every chapter's paper architecture (WRN-50 Gaussians, AlexNet 448 px + flows, the
#: TrustMAE generator with VGG-19 and the discriminator, N-pad, PaDiM and PatchCore on WRN-50), MVTec
#: names in few-shot grids, cable in Fig. 9; about 3 minutes of CPU. The full dry run (every notebook,
#: about 15 minutes of CPU) is `defectbook reproduce --profile paper --dry-run` (make dry-run).
DRY_RUN_CI = ("padim/padim_end_to_end", "differnet/fig7_fewshot", "trustmae/fig9_trust_threshold",
              "npad/appD_maps")


def dry_run_setup(base: Path | None = None) -> Path:
    """Point this process (and the kernels it starts) at the dry run's replica data, results and
    flag (see :mod:`defectbook.spec`); return the folder for the executed notebooks."""
    from .data.replica import write_replica
    from .paths import cache_dir

    base = Path(base or cache_dir() / "dry-run")
    os.environ["DEFECTBOOK_DATA"] = str(write_replica(base / "data"))
    os.environ["DEFECTBOOK_RESULTS"] = str(base / "results")
    os.environ["DEFECTBOOK_DRY_RUN"] = "1"
    return base / "executed"


def reproduce(profile: str = "cpu", only=None, params: dict | None = None, out_dir: Path | None = None,
              timeout: int | None = None, stream=sys.stdout, dry_run: bool = False) -> list[Outcome]:
    """Execute every (matching) notebook; print a summary table; return the outcomes."""
    nbs = discover(only)
    if not nbs:
        raise DefectbookError(f"no notebook matches {only!r}")
    if dry_run:
        out_dir = out_dir or dry_run_setup()
        print(f"dry run of profile {profile}: replica data {os.environ['DEFECTBOOK_DATA']}, random weights, "
              f"capped data and training; executed notebooks in {out_dir}", file=stream, flush=True)
    import resource

    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    outcomes = []
    for i, nb in enumerate(nbs, 1):
        print(f"[{i}/{len(nbs)}] {nb.parent.name}/{nb.stem} ({profile}) ...", file=stream, flush=True)
        o = execute(nb, executed_path(nb, out_dir), profile, params, timeout)
        print(f"    {o.status} in {o.seconds:.1f} s" + (f": {o.error}" if o.error else ""), file=stream, flush=True)
        outcomes.append(o)
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    print(summary(outcomes) + (" (dry run)" if dry_run else "") + f"; kernels' CPU time {cpu:.0f} s", file=stream,
          flush=True)
    return outcomes


def summary(outcomes: list[Outcome]) -> str:
    w = max([len(o.notebook) for o in outcomes] + [8])
    lines = [f"{'notebook':<{w}}  status  seconds", f"{'-' * w}  ------  -------"]
    lines += [f"{o.notebook:<{w}}  {o.status:<6}  {o.seconds:7.1f}" for o in outcomes]
    failed = sum(o.status != "ok" for o in outcomes)
    lines.append(f"{len(outcomes) - failed} ok, {failed} failed, {sum(o.seconds for o in outcomes):.0f} s in all")
    return "\n".join(lines)


def toc(base: Path | None = None) -> dict:
    """The Jupyter Book table of contents for the notebooks and chapters that exist."""
    base = base or root()
    parts = [{"caption": "Using this book", "chapters": [{"file": "book/rerun"}]}]
    groups = sorted({p.parent.name for p in discover(base=base / "notebooks")}, key=lambda g: GROUPS.get(g, ("", 99))[1])
    for g in groups:
        sections = [{"file": f"book/executed/{g}/{nb.stem}"} for nb in discover(f"{g}/*", base / "notebooks")]
        chapter = {"file": f"book/{g}", "sections": sections}
        parts.append({"caption": GROUPS.get(g, (g, 0))[0], "chapters": [chapter]})
    notes = [{"file": f"book/reproducibility/{g}"} for g in groups if (base / "book" / "reproducibility" / f"{g}.md").is_file()]
    parts.append({"caption": "Reproducibility", "chapters": [{"file": "book/reproducibility/index", "sections": notes}]})
    return {"format": "jb-book", "root": "book/intro", "parts": parts}


def write_toc(base: Path | None = None) -> Path:
    base = base or root()
    path = base / "_toc.yml"
    text = "# Generated by `defectbook toc` from notebooks/ and book/: do not edit by hand.\n"
    text += yaml.safe_dump(toc(base), sort_keys=False)
    path.write_text(text)
    return path


PLACEHOLDER = """# {title}

This notebook was not executed in this build. Run `defectbook reproduce --only {name}` (or `make book`)
to execute it, then `defectbook book` to render it.
"""


def build_book(base: Path | None = None, builder: str = "html") -> int:
    """Write placeholders for notebooks that were not executed, then run ``jupyter-book build``."""
    import subprocess

    import nbformat

    base = base or root()
    write_toc(base)
    for nb in discover(base=base / "notebooks"):
        out = executed_path(nb, base / "book" / "executed")
        if not out.is_file():
            out.parent.mkdir(parents=True, exist_ok=True)
            cell = nbformat.v4.new_markdown_cell(PLACEHOLDER.format(title=nb.stem, name=f"{nb.parent.name}/{nb.stem}"))
            nbformat.write(nbformat.v4.new_notebook(cells=[cell]), out)
    cmd = [sys.executable, "-m", "jupyter_book", "build", str(base), "--builder", builder]
    jb = Path(sys.executable).with_name("jupyter-book")
    if jb.is_file():
        cmd = [str(jb), "build", str(base), "--builder", builder]
    return subprocess.run(cmd, cwd=base).returncode
