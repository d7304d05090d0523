"""Batch execution of the book's notebooks (papermill) and the Jupyter Book build.

Notebook sources are jupytext percent-format files ``notebooks/<group>/<name>.py``; executed
copies go to ``book/executed/<group>/<name>.ipynb``, which ``_toc.yml`` names. A failing
notebook does not stop the batch: its partly executed copy (with the error) is kept beside it as
``<name>.failed.ipynb``, a good earlier copy is never replaced (else a visible "not executed" page
takes its place), the summary marks it, and the exit status is non-zero.

Batch output: every batch writes one log file (``<cache>/logs/reproduce-<profile>-<time>.log``, or
``log_file``); the notebooks' kernels append their ``logging`` lines to it (``DEFECTBOOK_LOG``: one
line per experiment with key, method, data, device, times and metrics) and the batch echoes the file
to stderr as it grows, so a person follows one ordered stream. Progress bars are off in the kernels
(``DEFECTBOOK_BATCH=1``), so no bar fragments reach logs or CI output, and the kernels' start-up
notice "Kernel is running over TCP without encryption" (ipykernel's ``IPKernelApp`` log, printed once
per notebook; the kernel only listens on localhost) is silenced with ``--IPKernelApp.log_level=ERROR``.

Build report: every batch writes ``build_report.json`` and the book page ``build_report.md`` beside the
executed notebooks (updated after each notebook; see :mod:`defectbook.book.buildreport`): each notebook's
wall time, status, experiment configs computed or reused, picture models trained or loaded, and the time
per phase. The kernels learn which notebook they run from a first, hidden cell (``DEFECTBOOK_NOTEBOOK``,
removed from the executed copy), so notebooks run at once on a cluster are told apart.

``dry_run=True`` (``defectbook reproduce --profile paper --dry-run``) executes the notebooks at the
profile's settings on a replica data root (:mod:`defectbook.data.replica`: the real datasets' names
and layouts, synthetic pictures), with data and training capped, grids thinned and random weights
(:mod:`defectbook.pipeline.spec`, "Dry run"); records, executed notebooks and data go under
``<cache>/dry-run/`` so they never mix with the book's.
"""
from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import DefectbookError, __version__, settings
from ..data.replica import write_replica
from ..methods import REGISTRY, build, parameter_names
from ..paths import cache_dir, repo_root
from ..pipeline.ledger import LEDGER_ENV, NOTEBOOK_ENV, REUSE_ENV
from ..pipeline.profiles import PROFILES
from ..pipeline.provenance import environment
from ..settings import model_reuse as reuse_on
from ..utils import log, setup_logging
from .buildreport import aggregate, machine, previous, read_ledger, write

GROUPS = {  # group -> (part caption, order)
    "padim": ("Foundation (PaDiM)", 0),
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


#: A group's pages executed from another notebook source with their own parameters: ``notebooks/<group>/pages.yaml``
#: maps a page name to ``{source: <notebook name in the group>, parameters: {name: value}}``. Each page is
#: ``notebooks/<group>/<page>.py`` in :func:`discover` (a path with no file: :func:`source_of` gives the source,
#: :func:`page_parameters` its parameters); a source that pages name is executed only as those pages.
PAGES_FILE = "pages.yaml"


def pages(group: Path) -> dict:
    """``{page: {"source": Path, "parameters": dict}}`` of a group folder's :data:`PAGES_FILE` (empty without
    one); an error naming the file for a page that is not a mapping, names a missing source or shadows a file."""
    f = Path(group) / PAGES_FILE
    if not f.is_file():
        return {}
    doc = yaml.safe_load(f.read_text()) or {}
    out = {}
    for name, page in (doc.items() if isinstance(doc, dict) else [(None, doc)]):
        if not isinstance(page, dict) or set(page) - {"source", "parameters"} or \
                not isinstance(page.get("parameters", {}), dict):
            raise DefectbookError(f"{f}: page {name!r} must be a mapping {{source: NAME, parameters: {{...}}}}")
        src = Path(group) / f"{page.get('source')}.py"
        if not src.is_file():
            raise DefectbookError(f"{f}: page {name!r} names source {page.get('source')!r}, which is not a notebook "
                                  f"of {Path(group).name}/")
        if (Path(group) / f"{name}.py").is_file():
            raise DefectbookError(f"{f}: page {name!r} has the name of a notebook source of {Path(group).name}/")
        out[str(name)] = {"source": src, "parameters": dict(page.get("parameters") or {})}
    return out


def source_of(nb: Path) -> Path:
    """The notebook source a page executes: the page's own file, or the source its group's pages name."""
    page = pages(nb.parent).get(nb.stem)
    return page["source"] if page else nb


def page_parameters(nb: Path) -> dict:
    """The parameters a page of :data:`PAGES_FILE` gives its source ({} for a notebook source itself)."""
    page = pages(nb.parent).get(nb.stem)
    return dict(page["parameters"]) if page else {}


def discover(only: str | list[str] | None = None, base: Path | None = None) -> list[Path]:
    """Notebook pages under ``notebooks/`` (sources, and the pages of :data:`PAGES_FILE` in place of the sources
    they name), ordered by group, filtered by glob(s) on ``group/name``."""
    base = base or root() / "notebooks"
    nbs = []
    for group in sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []:
        listed = pages(group)
        named = {page["source"] for page in listed.values()}
        nbs += [p for p in group.glob("*.py") if not p.name.startswith("_") and p not in named]
        nbs += [group / f"{name}.py" for name in listed]
    if only:
        pats = [only] if isinstance(only, str) else list(only)
        nbs = [p for p in nbs if any(fnmatch.fnmatch(f"{p.parent.name}/{p.stem}", pat) or fnmatch.fnmatch(p.stem, pat)
                                     for pat in pats)]
    return sorted(nbs, key=lambda p: (f"{p.parent.name}/{p.stem}" in LAST, GROUPS.get(p.parent.name, ("", 99))[1],
                                      p.parent.name, paper_order(p.stem)))


#: Notebooks that read every other notebook's records (the generated reproducibility report): they run
#: after all others, also when notebooks run several at once on a cluster.
LAST = ("benchmark/claims_ledger", "benchmark/reproducibility")


# A notebook's place within its chapter follows the paper: tables, figures, sections, then other
# pages (extra studies), then appendices. The prefix of the file name says which; numbers sort as
# numbers (``table10`` after ``table9``), letters after them (``fig2e`` after ``fig2``). The chapter's
# "At larger scale" page (``at_scale``, drawn from the results bundle) closes it.
PAPER_ORDER = (("table", 0), ("fig", 1), ("sec", 2), ("app", 4), ("at_scale", 5))


def paper_order(stem: str) -> tuple:
    """Sort key of a notebook name in its paper's order: ``table1`` < ``fig2`` < ``fig2e`` < ``sec37`` <
    ``mtd`` < ``appA`` < ``at_scale``. Names without a known prefix come after the sections, alphabetically."""
    for prefix, rank in PAPER_ORDER:
        m = re.match(rf"{prefix}s?(\d*)([A-Za-z]*)(?:_|$)", stem)   # "tables2_4_..." is a table page too
        if m:
            num, letter = m.groups()
            return (rank, int(num) if num else -1, letter, stem)
    return (3, -1, "", stem)


def executed_path(nb: Path, out_dir: Path | None = None) -> Path:
    return (out_dir or root() / "book" / "executed") / nb.parent.name / f"{nb.stem}.ipynb"


@dataclass
class Outcome:
    notebook: str
    status: str
    seconds: float
    error: str = ""


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def parse_value(text: str):
    """One ``-p`` value: YAML (numbers, lists, booleans, null), with ``1e3`` read as a number
    (YAML 1.1 reads it as a string) and an integral exponent form as an int (``1e3`` -> 1000)."""
    try:
        v = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise DefectbookError(f"cannot parse value {text!r}: {str(e).splitlines()[0]}") from None
    if isinstance(v, str) and _NUMBER.match(v.strip()):
        f = float(v)
        return int(f) if f.is_integer() and "." not in v else f
    return v


def parse_params(items: list[str] | None) -> dict:
    """``["KEY=VALUE", ...]`` -> dict, values parsed by :func:`parse_value`."""
    out = {}
    for it in items or []:
        if "=" not in it:
            raise DefectbookError(f"parameter {it!r} must look like KEY=VALUE")
        k, v = it.split("=", 1)
        if not k.strip().isidentifier():
            raise DefectbookError(f"parameter name {k.strip()!r} in {it!r} is not a valid name")
        out[k.strip()] = parse_value(v)
    return out


def _parameters_cell(nb: Path) -> list:
    """The statements of a notebook source's parameters cell (papermill's ``parameters`` tag)."""
    import ast

    text = source_of(nb).read_text()
    if 'tags=["parameters"]' not in text:
        return []
    cell = text.split('tags=["parameters"]', 1)[1].split("\n", 1)[-1].split("# %%")[0]
    return ast.parse(cell).body


def notebook_parameters(nb: Path) -> dict:
    """The parameters cell of a notebook source: ``{name: default value}`` (values it cannot evaluate: None)."""
    import ast

    out = {}
    for node in _parameters_cell(nb):
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        for t in targets:
            if isinstance(t, ast.Name):
                try:
                    out[t.id] = ast.literal_eval(node.value) if node.value is not None else None
                except ValueError:
                    out[t.id] = None
    return out


#: The types of notebook parameters whose default is None ("None: the profile's ..."): each of these
#: names means one thing in every notebook. An annotation in the parameters cell (``shots: list[int] =
#: None``) declares a type too and wins; a None default in neither (``shots``, ``noise``: a list in one
#: notebook, a number in another) takes any value.
NONE_DEFAULT_TYPES = {
    "seeds": "list[int]", "categories": "list[str]", "methods": "list[str]", "models": "list[str]",
    "backbones": "list[str]", "only": "list[str]", "ablation": "list[str]", "train_sizes": "list[int]",
    "deltas": "list[float]", "category": "str", "data_root": "str", "epochs": "int", "subsets": "int",
    "test_transforms": "int", "controls": "dict",
}
_SCALARS = ("bool", "int", "float", "str")
#: a value of each declared type, shown in the error for a value that does not fit
_EXAMPLES = {"bool": "true", "int": "3", "float": "0.5", "str": "text", "dict": "{a: 1}", "list": "[a, b]",
             "list[int]": "[0, 1]", "list[float]": "[0.1, 0.2]", "list[str]": "[a, b]", "list[bool]": "[true, false]"}


def type_of(value) -> str | None:
    """The type a value declares: ``bool``, ``int``, ``float``, ``str``, ``dict``, ``list[T]`` for a list of
    one scalar type T (ints and floats: ``list[float]``), ``list`` otherwise; None for None."""
    if value is None:
        return None
    for name, kind in (("bool", bool), ("int", int), ("float", float), ("str", str), ("dict", dict)):
        if isinstance(value, kind):
            return name
    if isinstance(value, (list, tuple)):
        inner = {type_of(v) for v in value}
        if inner == {"int", "float"}:
            inner = {"float"}
        return f"list[{inner.pop()}]" if len(inner) == 1 and inner <= set(_SCALARS) else "list"
    return type(value).__name__


def fits(value, declared: str) -> bool:
    """Whether ``value`` (a parsed ``-p`` value, not None) is of the ``declared`` type (see :func:`type_of`;
    an int is a float too, a bool is no number)."""
    if declared.startswith("list[") and declared.endswith("]"):
        return isinstance(value, list) and all(fits(v, declared[5:-1]) for v in value)
    if declared == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if declared == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    kinds = {"bool": bool, "str": str, "dict": dict, "list": (list, tuple)}
    return isinstance(value, kinds[declared]) if declared in kinds else type(value).__name__ == declared


def _annotation_type(node) -> str | None:
    """``list[int]``, ``list[int] | None``, ``Optional[str]`` ... as a declared type; None when not one of
    the types :func:`fits` knows."""
    import ast

    text = ast.unparse(node).replace(" ", "").replace("List[", "list[").replace("Dict", "dict")
    text = re.sub(r"^Optional\[(.*)\]$", r"\1", text)
    text = re.sub(r"^None\||\|None$", "", text)
    ok = re.fullmatch(rf"({'|'.join(_SCALARS)}|dict|list)|list\[({'|'.join(_SCALARS)})\]", text)
    return text if ok else None


def notebook_parameter_types(nb: Path) -> dict:
    """``{name: declared type or None}`` of a notebook's parameters: the annotation in its parameters cell,
    else the type of its default value, else (a None default) :data:`NONE_DEFAULT_TYPES`; None: any value."""
    import ast

    out = {}
    for name, default in notebook_parameters(nb).items():
        out[name] = type_of(default) if default is not None else NONE_DEFAULT_TYPES.get(name)
    for node in _parameters_cell(nb):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = _annotation_type(node.annotation) or out.get(node.target.id)
    return out


def _mistyped(name: str, value, declared: str, nb: Path) -> str:
    """The one-line error for ``-p name=value`` that does not fit the type ``nb`` declares."""
    flow = yaml.safe_dump(value, default_flow_style=True, width=1 << 16).strip().removesuffix("...").strip()
    if declared.startswith("list[") and fits(value, declared[5:-1]):
        hint = f"write {name}=[{flow}]"                   # one value where a list is expected
    elif declared == "str" and type_of(value) in _SCALARS:
        hint = f"quote it: {name}='{flow}'"
    else:
        hint = f"e.g. {name}={_EXAMPLES.get(declared, '...')}"
    got = type_of(value)
    return (f"parameter {name}={value!r} should be {_a(declared)} as declared in {nb.parent.name}/{nb.stem}, "
            f"got {_a(got)}: {hint}")


def _a(type_name: str) -> str:
    return f"{'an' if type_name[0] in 'aeiou' else 'a'} {type_name}"


def _check_as_detector_param(name: str, value) -> None:
    """A notebook parameter without a typed default (``d = None``) that detectors take (``d`` of
    PaDiM, N-pad): an error when every detector taking it refuses ``value`` (their ``__init__`` checks)."""
    errors = []
    for method in REGISTRY:
        known = parameter_names(method)
        if known is None or name not in known or name in ("seed", "device"):
            continue
        try:
            build(method, **{name: value})
            return
        except DefectbookError as e:
            errors.append(str(e))
    if errors:
        raise DefectbookError(errors[0])


def check_notebook_params(nbs: list[Path], params: dict) -> None:
    """A :class:`DefectbookError` for a parameter no selected notebook has, or whose value does not fit the
    type a notebook declares for it (:func:`notebook_parameter_types`: ``seeds`` a list of ints,
    ``categories`` a list of strings, ...); None resets a parameter to its default and always fits."""
    declared = {nb: notebook_parameters(nb) for nb in nbs}
    for k, v in params.items():
        having = [nb for nb, d in declared.items() if k in d]
        if not having:
            known = sorted(set().union(*[d.keys() for d in declared.values()]) - {"profile"})
            raise DefectbookError(f"unknown parameter {k!r}: no selected notebook has it; known: {', '.join(known)}")
        if v is None:
            continue
        if any(declared[nb][k] is None for nb in having):
            _check_as_detector_param(k, v)
        for nb in having:
            t = notebook_parameter_types(nb).get(k)
            if t is not None and not fits(v, t):
                raise DefectbookError(_mistyped(k, v, t, nb))


def is_complete(path: Path) -> bool:
    """True when ``path`` is an executed notebook whose every code cell ran (an execution count, no
    papermill exception): an interrupted run leaves cells without one."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - unreadable or truncated: not complete
        return False
    meta = nb.metadata.get("defectbook", {})
    if meta.get("status") not in (None, "ok") or nb.metadata.get("papermill", {}).get("exception"):
        return False
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    return bool(code) and all(c.get("execution_count") is not None for c in code)


def _status(path: Path) -> str | None:
    import nbformat

    try:
        return nbformat.read(path, as_version=4).metadata.get("defectbook", {}).get("status")
    except Exception:  # noqa: BLE001
        return None


def not_executed_page(path: Path, nb: Path, reason: str) -> None:
    """Write a one-cell notebook at ``path`` saying, visibly, that ``nb`` was not executed and why."""
    import nbformat

    name = f"{nb.parent.name}/{nb.stem}"
    text = PLACEHOLDER.format(title=nb.stem, name=name)
    if reason:
        text += f"\n```{{warning}}\nNot executed: {reason}\n```\n"
    page = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
    page.metadata["defectbook"] = {"status": "not executed", "reason": reason}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(page, path)


def execute(nb: Path, out: Path, profile: str, params: dict | None = None, timeout: int | None = None) -> Outcome:
    """See :func:`_execute`; the kernel's environment (no progress bars, batch mode) is set for this
    execution only, so the calling process is left as it was."""
    with batch_environment():
        return _execute(nb, out, profile, params, timeout)


@contextlib.contextmanager
def batch_environment():
    """``DEFECTBOOK_PROGRESS=0`` and ``DEFECTBOOK_BATCH=1`` (the kernels' batch mode) and the malloc settings of
    :data:`defectbook.settings.HEAP_ENV` (those not set already) inside the block, the previous values after it;
    a no-op where they are set already (a batch sets them once, so notebooks executed at once from several threads
    never undo each other's)."""
    want = {"DEFECTBOOK_PROGRESS": "0", "DEFECTBOOK_BATCH": "1", **settings.heap_env()}
    saved = {k: os.environ.get(k) for k in want}
    os.environ.update(want)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _execute(nb: Path, out: Path, profile: str, params: dict | None = None, timeout: int | None = None) -> Outcome:
    """Execute one notebook source with papermill; never raises for a notebook error.

    The run writes to a temporary file that replaces ``out`` only when every cell completed. A
    failed or interrupted run (Ctrl-C included, which is then re-raised) keeps its partial copy,
    marked failed, at ``<name>.failed.ipynb`` beside ``out``; an earlier good ``out`` is kept, and
    where there is none ``out`` becomes a visible "not executed" page.
    """
    import jupytext
    import nbformat
    import papermill as pm

    if profile not in PROFILES:
        raise DefectbookError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    name = f"{nb.parent.name}/{nb.stem}"
    out.parent.mkdir(parents=True, exist_ok=True)
    failed = out.with_name(f"{out.stem}.failed.ipynb")
    t0 = time.perf_counter()
    notebook = present(jupytext.read(source_of(nb)), deviations_note(nb))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells.insert(0, nbformat.v4.new_code_cell(   # which notebook the kernel's experiments belong to
        f"import os\nos.environ[{NOTEBOOK_ENV!r}] = {name!r}", metadata={"tags": ["remove-cell", IDENTITY_TAG]}))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{nb.stem}.ipynb"
        dest = out.parent / f".{out.stem}.running.ipynb"
        nbformat.write(notebook, src)
        err, interrupted = "", None
        try:
            pm.execute_notebook(str(src), str(dest),
                                parameters={"profile": profile, **page_parameters(nb), **(params or {})},
                                kernel_name="python3", cwd=str(nb.parent), progress_bar=False,
                                execution_timeout=timeout, report_mode=False,
                                extra_arguments=KERNEL_ARGS)
            if not is_complete(dest):
                err = "the execution ended before every cell ran"
        except KeyboardInterrupt as e:
            err, interrupted = "interrupted (KeyboardInterrupt)", e
        except Exception as e:  # noqa: BLE001 - papermill raises PapermillExecutionError and others
            msg = str(e).strip().splitlines()
            err = next((line for line in reversed(msg) if line.strip()), e.__class__.__name__)[:300]
        if not err:
            nbformat.write(merge_parameters(_drop_identity(nbformat.read(dest, as_version=4))), dest)
            os.replace(dest, out)
            failed.unlink(missing_ok=True)
            return Outcome(name, "ok", time.perf_counter() - t0)
        _mark_failed(dest, failed, err)
        if not is_complete(out):
            not_executed_page(out, nb, f"the last run failed: {err}")
        if interrupted is not None:
            raise interrupted
        return Outcome(name, "FAILED", time.perf_counter() - t0, err)


IDENTITY_TAG = "defectbook-notebook-identity"


def _drop_identity(notebook):
    """The executed notebook without the hidden cell that named it to its kernel."""
    notebook.cells = [c for c in notebook.cells if IDENTITY_TAG not in c.get("metadata", {}).get("tags", [])]
    return notebook


def _mark_failed(partial: Path, failed: Path, err: str) -> None:
    """Move the partial copy of a failed run to ``failed``, marked failed in its metadata."""
    import nbformat

    try:
        nb = nbformat.read(partial, as_version=4)
    except Exception:  # noqa: BLE001 - never written or truncated by the interruption
        nb = nbformat.v4.new_notebook()
    nb.metadata["defectbook"] = {"status": "failed", "error": err}
    nbformat.write(nb, failed)
    partial.unlink(missing_ok=True)


#: arguments of every notebook kernel: ipykernel's start-up warnings (the TCP notice) silenced
KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR"]


def default_log_file(profile: str) -> Path:
    """``<cache>/logs/reproduce-<profile>-<UTC time>.log``."""
    return cache_dir() / "logs" / f"reproduce-{profile}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.log"


class _Follow(threading.Thread):
    """Echo the lines appended to a file to ``stream`` until stopped (then drain what is left)."""

    def __init__(self, path: Path, stream):
        super().__init__(daemon=True)
        self.path, self.stream, self.done = path, stream, threading.Event()

    def run(self):
        with open(self.path, encoding="utf-8", errors="replace") as f:
            while True:
                line = f.readline()
                if line:
                    self.stream.write(line)
                    self.stream.flush()
                elif self.done.is_set():
                    return
                else:
                    time.sleep(0.2)

    def stop(self):
        self.done.set()
        self.join(timeout=10)


def _tags(cell) -> list:
    return cell.setdefault("metadata", {}).setdefault("tags", [])


def deviations_note(nb: Path) -> str | None:
    """The reproducibility note of a notebook's paper, as a link from its executed page, if it exists."""
    group = nb.parent.name
    if (nb.parents[2] / "book" / "reproducibility" / f"{group}.md").is_file():
        return f"../../reproducibility/{group}.md"
    return None


def present(notebook, note: str | None = None):
    """Prepare a notebook for reading (Jupyter Book): every code cell's source collapsed (``hide-input``)
    unless the source already chose a tag (``remove-input``, ``remove-cell``, ``show-input``), and the
    deviations note under the title. Done when the jupytext source is converted, so the sources stay
    small. (Each page writes its own summary: a ``{glue:md} summary`` directive under its title and a
    ``report.page_summary(records)`` call.)"""
    chosen = {"hide-input", "remove-input", "remove-cell", "show-input", "hide-cell", "hide-output"}
    for cell in notebook.cells:
        if cell.cell_type == "code" and not chosen & set(_tags(cell)):
            _tags(cell).append("hide-input")
    first = next((i for i, c in enumerate(notebook.cells) if c.cell_type == "markdown"), None)
    if note and first is not None:
        notebook.cells[first].source = notebook.cells[first].source.rstrip() + "\n\n" + DEVIATIONS.format(note=note)
    return notebook


DEVIATIONS = ("```{{admonition}} Deviations from the paper\n:class: note\nWhat this page does differently from the "
              "paper (data, sizes, backbone, readings of the text), and why: [the reproducibility notes]({note}).\n```")


def merge_parameters(notebook):
    """Show the parameters once: papermill's injected cell (the values this run used) is folded into the
    source's parameters cell (the defaults) as one collapsed cell, and then removed."""
    cells = notebook.cells
    i = next((k for k, c in enumerate(cells) if "injected-parameters" in c.get("metadata", {}).get("tags", [])), None)
    j = next((k for k, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if i is None or j is None:
        return notebook
    injected = cells[i].source.replace("# Parameters\n", "").strip()
    cells[j].source = cells[j].source.rstrip() + "\n\n# This run's values (papermill):\n" + injected
    tags = _tags(cells[j])
    if "hide-input" not in tags and "remove-cell" not in tags:
        tags.append("hide-input")
    del cells[i]
    return notebook


#: The dry-run notebooks CI executes (tests/integration/test_spec.py, marked slow): every dataset loader (MVTec AD,
#: MTD, DAGM), every chapter's paper architecture (WRN-50 Gaussians, AlexNet 448 px + flows, the
#: TrustMAE generator with VGG-19 and the discriminator, N-pad, PaDiM and PatchCore on WRN-50), MVTec
#: names in few-shot grids, cable in Fig. 9; about 3 minutes of CPU. The full dry run (every notebook,
#: about 15 minutes of CPU) is `defectbook reproduce --profile paper --dry-run` (make dry-run).
DRY_RUN_CI = ("padim/padim_end_to_end", "differnet/fig7_fewshot", "trustmae/fig9_trust_threshold",
              "npad/appD_maps")


def dry_run_setup(base: Path | None = None) -> Path:
    """Point this process (and the kernels it starts) at the dry run's replica data, results and
    flag (see :mod:`defectbook.pipeline.spec`); return the folder for the executed notebooks."""
    base = Path(base or cache_dir() / "dry-run")
    os.environ["DEFECTBOOK_DATA"] = str(write_replica(base / "data"))
    os.environ["DEFECTBOOK_RESULTS"] = str(base / "results")
    os.environ["DEFECTBOOK_DRY_RUN"] = "1"
    return base / "executed"


def reproduce(profile: str = "cpu", only=None, params: dict | None = None, out_dir: Path | None = None,
              timeout: int | None = None, stream=sys.stdout, log_file: str | os.PathLike | None = None,
              echo=sys.stderr, workers=None, scheduler: str | None = None, dry_run: bool = False,
              model_reuse: bool | None = None) -> list[Outcome]:
    """Execute every (matching) notebook; print a summary table; return the outcomes.

    The batch's log lines (its own and the kernels' per-experiment lines) go to ``log_file``
    (default :func:`default_log_file`) and are echoed to ``echo`` (None: not echoed).
    With ``workers`` (a local Dask cluster of that many workers, or ``"auto"``) or ``scheduler``
    (an existing one's address) the notebooks' experiments run on the cluster and several
    notebooks at once (:func:`defectbook.pipeline.executors.notebooks_on_cluster`). ``dry_run``: see the module
    docstring. ``model_reuse=False``: fitted models are neither saved nor loaded (``DEFECTBOOK_REUSE_MODELS=0``
    for the batch), to measure what the model store saves. The build report is written beside the
    executed notebooks after every notebook and at the end (also when the batch is interrupted).
    """
    nbs = discover(only)
    if not nbs:
        raise DefectbookError(f"no notebook matches {only!r}")
    check_notebook_params(nbs, params or {})
    if scheduler and not workers:  # an unreachable scheduler is an error before any log or report is written
        from ..pipeline.executors import client

        client(scheduler)
    if dry_run:
        out_dir = out_dir or dry_run_setup()
        print(f"dry run of profile {profile}: replica data {settings.get('DEFECTBOOK_DATA')}, random weights, "
              f"capped data and training; executed notebooks in {out_dir}", file=stream, flush=True)
    import resource

    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    log_path = Path(log_file) if log_file else default_log_file(profile)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.touch()
    previous = settings.get("DEFECTBOOK_LOG")
    os.environ["DEFECTBOOK_LOG"] = str(log_path)        # the kernels inherit it
    setup_logging(log_path, stderr=False)
    follow = _Follow(log_path, echo) if echo is not None else None
    if follow:
        follow.start()
    outcomes = []
    env = batch_environment()
    env.__enter__()
    report = BuildReport(nbs, profile, only, out_dir, workers or scheduler, model_reuse, log_path)
    try:
        log.info("batch: %d notebook(s), profile %s, log %s", len(nbs), profile, log_path)
        if workers or scheduler:
            from ..pipeline.executors import notebooks_on_cluster

            first = [nb for nb in nbs if f"{nb.parent.name}/{nb.stem}" not in LAST]
            outcomes = notebooks_on_cluster(
                report.longest_first(first), lambda nb: report.run(nb,
                                             lambda: execute(nb, executed_path(nb, out_dir), profile, params, timeout)),
                workers=workers, scheduler=scheduler, stream=stream) if first else []
            outcomes.sort(key=lambda o: report.order.index(o.notebook))   # the book's order in the summary
        rest = [nb for nb in nbs if f"{nb.parent.name}/{nb.stem}" in LAST] if (workers or scheduler) else nbs
        for i, nb in enumerate(rest, len(nbs) - len(rest) + 1):
            print(f"[{i}/{len(nbs)}] {nb.parent.name}/{nb.stem} ({profile}) ...", file=stream, flush=True)
            log.info("notebook %s/%s (%d/%d) started", nb.parent.name, nb.stem, i, len(nbs))
            o = report.run(nb, lambda: execute(nb, executed_path(nb, out_dir), profile, params, timeout))
            print(f"    {o.status} in {o.seconds:.1f} s" + (f": {o.error}" if o.error else ""), file=stream, flush=True)
            (log.info if o.status == "ok" else log.error)("notebook %s %s in %.1f s%s", o.notebook, o.status,
                                                          o.seconds, f": {o.error}" if o.error else "")
            outcomes.append(o)
        log.info("batch done: %d ok, %d failed; log %s", sum(o.status == "ok" for o in outcomes),
                 sum(o.status != "ok" for o in outcomes), log_path)
        report.state = "done"
    finally:
        report.close()
        env.__exit__(None, None, None)
        if follow:
            follow.stop()
        for h in [h for h in log.handlers if getattr(h, "_defectbook", "") == f"file:{log_path}"]:
            log.removeHandler(h)
            h.close()
        if previous is None:
            os.environ.pop("DEFECTBOOK_LOG", None)
        else:
            os.environ["DEFECTBOOK_LOG"] = previous
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    print(summary(outcomes) + (" (dry run)" if dry_run else "") + f"; kernels' CPU time {cpu:.0f} s", file=stream,
          flush=True)
    print(f"log: {log_path}", file=stream, flush=True)
    print(f"build report: {report.path} (book page {report.path.with_suffix('.md').name})", file=stream, flush=True)
    return outcomes


class BuildReport:
    """The batch's build report (:mod:`defectbook.book.buildreport`): sets the ledger and model-reuse variables
    for the batch (restored by :meth:`close`), records each notebook's outcome and rewrites the report
    after each notebook and on close (state ``interrupted`` unless the batch set ``state = "done"``)."""

    def __init__(self, nbs, profile, only, out_dir, cluster, model_reuse, log_path):
        self.order = [f"{nb.parent.name}/{nb.stem}" for nb in nbs]
        self.out_dir = Path(out_dir or root() / "book" / "executed")
        self.path = self.out_dir / "build_report.json"
        started = time.time()
        bid = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started)) + f"-{os.getpid()}"
        self.archive = cache_dir() / "builds" / f"{bid}.json"
        self.ledger = cache_dir() / "builds" / f"{bid}.jsonl"
        self.ledger.parent.mkdir(parents=True, exist_ok=True)
        self.ledger.touch()
        self.saved = {k: settings.get(k) for k in (LEDGER_ENV, REUSE_ENV)}
        os.environ[LEDGER_ENV] = str(self.ledger)
        if model_reuse is not None:
            os.environ[REUSE_ENV] = "1" if model_reuse else "0"
        env = environment()
        self.build = {"id": bid, "profile": profile, "only": list([only] if isinstance(only, str) else only or []),
                      "started": started, "finished": None, "state": "running", "model_reuse": reuse_on(),
                      "cluster": str(cluster) if cluster else None, "commit": env.get("git_commit"),
                      "dirty": env.get("git_dirty"), "version": __version__, "machine": machine(),
                      "dry_run": settings.dry_run(), "ledger": str(self.ledger), "log": str(log_path)}
        import resource

        self._cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.outcomes: dict = {"__started__": {}}
        self.state = "interrupted"
        self._lock = threading.Lock()
        self.before = previous(self.archive.parent, self.build)   # the build this one is compared with
        self.write()

    def longest_first(self, nbs: list[Path]) -> list[Path]:
        """``nbs`` ordered by their time in the previous build, longest first (notebooks it did not run
        first of all: their time is unknown), so that notebooks run at once do not end on one long page."""
        seconds = (self.before or {}).get("seconds", {})
        return sorted(nbs, key=lambda nb: -seconds.get(f"{nb.parent.name}/{nb.stem}", float("inf")))

    def run(self, nb: Path, execute_one) -> Outcome:
        name = f"{nb.parent.name}/{nb.stem}"
        self.outcomes["__started__"][name] = time.time()
        o = execute_one()
        with self._lock:
            self.outcomes[name] = {"status": o.status, "seconds": o.seconds, "error": o.error}
        self.write()
        return o

    def write(self) -> None:
        with self._lock:
            if self.build.get("cluster"):   # set when the cluster starts, after this report: the workers' threads
                self.build["worker_threads"] = settings.get("DEFECTBOOK_TASK_THREADS")
            ledger = read_ledger(self.ledger)
            devices = sorted({str(e["device"]) for e in ledger if e.get("device")})
            rep = aggregate(self.build | {"devices": devices}, self.outcomes, ledger, self.order)
            try:
                write(rep, self.out_dir, self.archive, before=self.before)
            except Exception as e:  # noqa: BLE001 - a report that cannot be written never fails the batch
                print(f"build report not written: {e}", file=sys.stderr)

    def close(self) -> None:
        import resource

        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.build["finished"], self.build["state"] = time.time(), self.state
        self.build["kernels_cpu_s"] = round(cpu.ru_utime + cpu.ru_stime - self._cpu0.ru_utime - self._cpu0.ru_stime, 1)
        self.write()
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def summary(outcomes: list[Outcome]) -> str:
    w = max([len(o.notebook) for o in outcomes] + [8])
    lines = [f"{'notebook':<{w}}  status  seconds", f"{'-' * w}  ------  -------"]
    lines += [f"{o.notebook:<{w}}  {o.status:<6}  {o.seconds:7.1f}" for o in outcomes]
    failed = sum(o.status != "ok" for o in outcomes)
    lines.append(f"{len(outcomes) - failed} ok, {failed} failed, {sum(o.seconds for o in outcomes):.0f} s in all")
    return "\n".join(lines)


PLACEHOLDER = """# {title}

This notebook was not executed in this build. Run `defectbook reproduce --only {name}` (or `make book`)
to execute it, then `defectbook book` to render it.
"""
