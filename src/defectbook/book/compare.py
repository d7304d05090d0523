"""``defectbook compare ROOT``: every method of the book on a folder of the user's images, as one page.

The folder is checked first (:func:`defectbook.data.layout.user_data`: layout, image counts, masks), so a
wrong folder fails before anything is trained. The experiments then run in this process with a progress bar
per method (:func:`defectbook.analysis.compare.run`; on a local Dask cluster with ``workers``), into the
book's record store; the notebook ``notebooks/benchmark/compare.py`` (the book's comparison pages) is executed
with papermill on the same parameters, finds every record in the store, and is written to ``OUT/compare.ipynb``
and, as one self-contained page, ``OUT/compare.html`` (:mod:`defectbook.book.standalone`). The recommended
method's fitted model goes to ``OUT/model`` for ``defectbook predict``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .. import DefectbookError
from ..analysis import compare as analysis
from ..components.features import FEATURES
from .execute import execute, root
from .standalone import write_html

SOURCE = ("benchmark", "compare")


def notebook() -> Path:
    """The comparison's notebook source."""
    return root() / "notebooks" / SOURCE[0] / f"{SOURCE[1]}.py"


def compare(data_root, out, category: str | None = None, dataset: str | None = None, profile: str = "cpu",
            methods=None, seeds=None, fpr: float = 0.05, cheapest: str = "predict", workers=None,
            timeout: int | None = None, stream=None) -> dict:
    """Check the data, run every method, execute and render the page; returns ``{"data", "notebook", "html",
    "model"}`` (paths). A failed page is a :class:`~defectbook.DefectbookError` naming its error."""
    stream = stream or sys.stderr
    data = analysis.user_data(data_root, category, dataset)
    print(f"data: {data.describe()}", file=stream, flush=True)
    if cheapest not in analysis.COSTS:
        raise DefectbookError(f"unknown cost {cheapest!r}; known: {', '.join(analysis.COSTS)}")
    if not 0 <= fpr < 1:
        raise DefectbookError(f"--fpr must be in [0, 1), got {fpr}")
    configs = analysis.configs(profile, data, methods, seeds)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    params = {"data_root": data.root, "category": data.category, "dataset": data.dataset,
              "methods": list(dict.fromkeys(c["method"] for c in configs)), "seeds": seeds, "fpr": fpr,
              "cheapest": cheapest, "model_dir": str((out / "model").resolve())}
    page = out / "compare.ipynb"

    def run_one(nb: Path):
        analysis.run(configs)
        print(f"executing the page {nb.parent.name}/{nb.stem} ...", file=stream, flush=True)
        return execute(nb, page, profile, params, timeout)

    with FEATURES.off():           # also in the workers a local cluster starts
        if workers:
            from ..pipeline.executors import notebooks_on_cluster

            outcome = notebooks_on_cluster([notebook()], run_one, workers=workers, stream=stream)[0]
        else:
            outcome = run_one(notebook())
    if outcome.status != "ok":
        raise DefectbookError(f"the comparison page failed: {outcome.error} (partial copy: "
                              f"{page.with_name('compare.failed.ipynb')})")
    html = write_html(page, out / "compare.html")
    print(f"page: {html}\nnotebook: {page}\nmodel: {out / 'model'} (defectbook predict {out / 'model'} IMAGES)",
          file=stream, flush=True)
    return {"data": data, "notebook": page, "html": html, "model": out / "model"}
