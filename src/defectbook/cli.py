"""defectbook: data, evaluate, compare, predict, reproduce, weights, store, book, toc (the console script of the
defectbook package).

Examples::

    defectbook data synth data/synthetic --size 128
    defectbook data check ../shared/data/mtd
    defectbook evaluate --method padim --dataset mtd --profile cpu --data-root ../shared/data
    defectbook reproduce --profile smoke --only 'padim/*' -p seeds=[0,1]
    defectbook compare ~/parts --category bracket --out report   # every method on your images
    defectbook predict report/model ~/parts/new --out scored
    defectbook weights list
    defectbook weights fetch wide_resnet50_2 vgg19
    defectbook store verify                                  # check every stored artifact
    defectbook reproduce --profile paper --workers auto      # one Dask worker per GPU
    defectbook book
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import DefectbookError, __version__, settings


def _cmd_evaluate(a) -> int:
    from .book.execute import parse_params
    from .pipeline import spec
    from .pipeline.run import run
    from .utils import setup_logging

    setup_logging()                                     # the experiment's log line on stderr

    chapter = a.chapter or spec.default_chapter(a.method)
    if chapter not in spec.chapters():
        raise DefectbookError(f"unknown chapter {chapter!r}; known: {', '.join(spec.chapters())}")
    P = spec.load(a.profile)
    dataset = a.dataset or P["data"]["dataset"]
    if dataset not in _datasets():
        raise DefectbookError(f"unknown dataset {dataset!r}; known: {', '.join(_datasets())}")
    category = a.category
    if category is None and dataset != "mtd":
        cats = spec.primary_categories(P, P[chapter]["categories"], a.data_root) if dataset == P["data"]["dataset"] \
            else spec.available_real([dataset], a.data_root)
        if not cats:
            raise DefectbookError(f"no {dataset} category found (pass --category, and --data-root for real data)")
        category = cats[0][1]
    elif dataset == "synthetic":
        from .data.synthetic import CATEGORIES

        if category not in CATEGORIES:
            raise DefectbookError(f"unknown synthetic category {category!r}; known: {', '.join(CATEGORIES)}")
    cfg = spec.make_config(P, chapter, a.method, dataset, category, parse_params(a.param), seed=a.seed,
                           data_root=a.data_root)
    rec = run(cfg, force=a.force)
    print(json.dumps({"key": rec.key, "config": {k: cfg[k] for k in ("method", "dataset", "category", "params",
                                                                      "transform", "profile", "device")},
                      "metrics": rec.metrics, "timings": rec.timings, "memory": rec.memory, "notes": rec.notes},
                     indent=1))
    return 0


def _datasets() -> tuple[str, ...]:
    from .data import DATASETS

    return tuple(d for d in DATASETS if d != "folder")


def _evaluate_help() -> str:
    """The methods (with their chapter), datasets and profiles (with the primary dataset) `evaluate` knows."""
    from .methods import REGISTRY
    from .pipeline import spec

    lines = ["methods (chapter whose profile settings they get; --chapter picks another):"]
    for m in sorted(REGISTRY):
        ch = spec.method_chapters(m)
        lines.append(f"  {m:<10} {', '.join(ch) if ch else '(no profile settings)'}")
    lines.append("datasets: " + ", ".join(_datasets()) + " (default: the profile's primary dataset)")
    lines.append("profiles (default cpu):")
    for p in spec.PROFILES:
        P = spec.load(p)
        lines.append(f"  {p:<6} data={P['data']['dataset']} device={P['device']} seeds={P['seeds']}")
    lines.append("parameters: the profile's for the method and chapter; -p KEY=VALUE overrides one.")
    return "\n".join(lines)


def _cmd_reproduce(a) -> int:
    from .book.execute import parse_params, reproduce

    a.workers = _workers(a.workers)
    if a.timeout is not None and a.timeout < 1:
        raise DefectbookError(f"--timeout must be a number of seconds >= 1 per cell, got {a.timeout} "
                              f"(leave it out for no limit)")
    if a.data_root and not a.dry_run:
        os.environ["DEFECTBOOK_DATA"] = a.data_root
    outcomes = reproduce(a.profile, a.only, parse_params(a.param), timeout=a.timeout, workers=a.workers,
                         scheduler=a.scheduler, dry_run=a.dry_run, model_reuse=False if a.no_model_reuse else None)
    return 0 if all(o.status == "ok" for o in outcomes) else 1


def _workers(value):
    """``--workers`` as ``reproduce`` takes it: a whole number >= 1, ``auto``, or None."""
    if value is None or value == "auto":
        return value
    if not value.strip().isdigit() or int(value) < 1:
        raise DefectbookError(f"--workers must be a whole number >= 1 or 'auto', got {value!r}")
    return int(value)


def _cmd_compare(a) -> int:
    from .book.compare import compare
    from .book.execute import parse_value
    from .utils import setup_logging

    setup_logging()
    methods = [m.strip() for m in a.methods.split(",") if m.strip()] if a.methods else None
    seeds = parse_value(a.seeds) if a.seeds else None
    if seeds is not None:
        seeds = [seeds] if isinstance(seeds, int) else seeds
        if not isinstance(seeds, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise DefectbookError(f"--seeds must be a list of whole numbers, e.g. [0,1,2], got {a.seeds!r}")
    compare(a.root, a.out, a.category, a.dataset, a.profile, methods, seeds, a.fpr, a.cheapest,
            _workers(a.workers), a.timeout)
    return 0


def _cmd_predict(a) -> int:
    from .pipeline.deploy import predict_folder
    from .utils import setup_logging

    setup_logging()
    res = predict_folder(a.model, a.images, a.out, device=a.device)
    print(f"{res['n']} images scored: {res['scores']}"
          + (f"; {res['anomalous']} above the threshold {res['threshold']:.4g}" if res["threshold"] is not None else "")
          + (f"; {len(res['maps'])} maps in {Path(a.out) / 'maps'}" if res["maps"] else "; the method gives no maps"))
    return 0


def _cmd_weights(a) -> int:
    from .components.backbones import fetch_weights, weights_table

    if a.action == "fetch":
        for path in fetch_weights(a.names or None, a.to, progress=True, force=a.force):
            print(f"present: {path}")
        return 0
    if a.names:
        raise DefectbookError("`defectbook weights list` takes no names")
    rows = weights_table()
    w = max(len(r["name"]) for r in rows)
    f = max(len(r["file"]) for r in rows)
    print(f"{'backbone':<{w}}  {'file':<{f}}  status   where")
    for r in rows:
        status = "present" if r["path"] else "ABSENT"
        where = r["path"] or " or ".join(r["folders"])
        print(f"{r['name']:<{w}}  {r['file']:<{f}}  {status:<7}  {where}")
    missing = [r["name"] for r in rows if not r["path"]]
    if missing:
        print(f"\n{len(missing)} absent: `defectbook weights fetch {' '.join(missing)}` downloads them "
              "(hash-checked) on a machine with internet")
    return 0


def _cmd_book(a) -> int:
    from .book.toc import build_book

    return build_book(builder=a.builder)


def _cmd_store(a) -> int:
    from .pipeline.verify import main as verify

    return verify(a.cache, a.results, a.remove, not a.no_rekey, a.json)


def _cmd_toc(a) -> int:
    from .book.toc import write_toc

    print(f"wrote {write_toc()}")
    return 0


def parser() -> argparse.ArgumentParser:
    from .data.commands import add_data_parser
    from .pipeline.profiles import PROFILES
    from .pipeline.profiles import load as load_profile

    p = argparse.ArgumentParser(prog="defectbook", description=__doc__.split("\n\n")[0])
    p.add_argument("--version", action="version", version=f"defectbook {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    add_data_parser(sub, load_profile)

    e = sub.add_parser("evaluate", help="run one experiment and print its metrics",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_evaluate_help())
    e.add_argument("--method", required=True, metavar="METHOD", help="a registered method (listed below)")
    e.add_argument("--dataset", default=None, help="default: the profile's primary dataset")
    e.add_argument("--category", default=None, help="default: the chapter's first category (MTD has none)")
    e.add_argument("--chapter", default=None, help="whose profile settings to use; default: the method's own chapter")
    e.add_argument("--profile", default="cpu", choices=PROFILES, help="settings profile")
    e.add_argument("--data-root", default=None, help="folder holding the real datasets (default: $DEFECTBOOK_DATA)")
    e.add_argument("--seed", type=int, default=0, help="random seed of the run")
    e.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", help="detector parameter override")
    e.add_argument("--force", action="store_true", help="recompute even if a record exists")
    e.set_defaults(func=_cmd_evaluate)

    r = sub.add_parser("reproduce", help="execute the book's notebooks with papermill")
    r.add_argument("--profile", default="cpu", choices=PROFILES, help="settings profile of every notebook")
    r.add_argument("--only", action="append", metavar="GLOB", help="e.g. 'padim/*' or 'npad/table1*'")
    r.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", help="notebook parameter")
    r.add_argument("--data-root", default=None, help="folder holding the real datasets (default: $DEFECTBOOK_DATA)")
    r.add_argument("--timeout", type=int, default=None, help="seconds per cell, >= 1 (default: no limit)")
    r.add_argument("--workers", default=None, metavar="N",
                   help="start a local Dask cluster of N >= 1 workers ('auto': one per GPU, else per core) and run "
                        "the experiments and several notebooks at once on it (needs the [cluster] extra)")
    r.add_argument("--scheduler", default=settings.scheduler(), metavar="ADDRESS",
                   help="run the experiments on an existing Dask scheduler, e.g. tcp://host:8786 "
                        "(default: $DEFECTBOOK_SCHEDULER; one that does not answer within "
                        "$DEFECTBOOK_CONNECT_TIMEOUT seconds, default 10, is an error)")
    r.add_argument("--dry-run", action="store_true",
                   help="execute every notebook at the profile's settings on a synthetic data root with the real "
                        "datasets' names and layouts, capped data and training, random weights (labelled)")
    r.add_argument("--no-model-reuse", action="store_true",
                   help="train every picture notebook's model again: nothing saved to or loaded from the model "
                        "store (DEFECTBOOK_REUSE_MODELS=0), to measure what model reuse saves in the build report")
    r.set_defaults(func=_cmd_reproduce)

    c = sub.add_parser("compare", help="every method of the book on a folder of your images: one HTML page, a "
                                       "recommendation, and its model for `defectbook predict`",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=COMPARE_LAYOUTS)
    c.add_argument("root", metavar="ROOT", help="your images: MVTec layout or normal/abnormal/masks folders (below)")
    c.add_argument("--category", default=None, help="a category folder under ROOT (needed when it holds several)")
    c.add_argument("--dataset", default=None, choices=["mvtec", "folder", "mtd", "elpv"],
                   help="default: found from ROOT's layout; mtd: ROOT is the data root holding mtd/; elpv: the "
                        "installed ELPV package (--category mono or poly)")
    c.add_argument("--profile", default="cpu", choices=PROFILES, help="whose settings each method gets")
    c.add_argument("--methods", default=None, metavar="A,B,...", help="comma-separated methods (default: every "
                                                                      "method of the book)")
    c.add_argument("--seeds", default=None, metavar="[0,1,...]", help="seeds (default: the profile's)")
    c.add_argument("--fpr", type=float, default=0.05, help="false-positive rate on the defect-free test images "
                                                           "that sets the recommended method's threshold")
    c.add_argument("--cheapest", default="predict", choices=["predict", "fit", "memory"],
                   help="what cheapest means: fastest prediction, fastest fit or least peak memory")
    c.add_argument("--out", default="compare", help="folder for compare.html, compare.ipynb and model/")
    c.add_argument("--workers", default=None, metavar="N", help="run the experiments on a local Dask cluster of N "
                                                                "workers ('auto': one per GPU, else per core)")
    c.add_argument("--timeout", type=int, default=None, help="seconds per notebook cell (default: no limit)")
    c.set_defaults(func=_cmd_compare)

    pr = sub.add_parser("predict", help="score new images with a model saved by `defectbook compare`")
    pr.add_argument("model", metavar="MODEL", help="the model folder (compare's OUT/model)")
    pr.add_argument("images", metavar="IMAGES", nargs="+", help="image files or folders of images")
    pr.add_argument("--out", default="predictions", help="folder for scores.csv and maps/")
    pr.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: the device it was fitted on)")
    pr.set_defaults(func=_cmd_predict)

    w = sub.add_parser("weights", help="list or fetch the papers' ImageNet backbone weights")
    w.add_argument("action", choices=["list", "fetch"],
                   help="list: each backbone's weight file, where it is looked for, present or absent; fetch: download")
    w.add_argument("names", nargs="*", metavar="NAME", help="backbones to fetch (default: all)")
    w.add_argument("--to", default=None, help="folder to download into (default: DEFECTBOOK_WEIGHTS, else the "
                                              "torch hub cache)")
    w.add_argument("--force", action="store_true", help="download again even when present")
    w.set_defaults(func=_cmd_weights)

    b = sub.add_parser("book", help="build the Jupyter Book from the executed notebooks")
    b.add_argument("--builder", default="html",
                   choices=["html", "dirhtml", "singlehtml", "pdfhtml", "latex", "linkcheck"],
                   help="Jupyter Book builder")
    b.set_defaults(func=_cmd_book)

    s = sub.add_parser("store",
                       help="check every stored artifact: records, maps, models, feature cache, synthetic data")
    s.add_argument("action", choices=["verify"], help="verify: check each artifact, list what is refused and why "
                                                      "(exit 1 when anything is)")
    s.add_argument("--cache", default=None, help="the cache folder (default: $DEFECTBOOK_CACHE, else <repo>/_cache)")
    s.add_argument("--results", default=None, help="the results folder (default: $DEFECTBOOK_RESULTS, else "
                                                   "CACHE/results)")
    s.add_argument("--remove", action="store_true", help="delete the refused artifacts (the next run recomputes them)")
    s.add_argument("--no-rekey", action="store_true", help="skip checking whether today's code keys each record "
                                                           "the same (it lists real data files)")
    s.add_argument("--json", action="store_true", help="print the findings as JSON")
    s.set_defaults(func=_cmd_store)

    t = sub.add_parser("toc", help="regenerate _toc.yml from notebooks/ and book/")
    t.set_defaults(func=_cmd_toc)
    _show_defaults(p)
    return p


COMPARE_LAYOUTS = """layouts of ROOT (checked before anything is trained):
  MVTec:  ROOT/<category>/train/good, ROOT/<category>/test/good, ROOT/<category>/test/<defect>,
          optional ROOT/<category>/ground_truth/<defect>/<name>_mask.png (ROOT may be the category folder)
  folder: ROOT[/<category>]/normal (or good), abnormal (or defect), optional masks (<name>.png or
          <name>_mask.png); a seeded fifth of the normal images is held out for test
examples:
  defectbook compare ~/parts --category bracket --out bracket-report
  defectbook compare ~/parts/bracket --methods padim,patchcore,knn --workers 2
  defectbook predict bracket-report/model ~/parts/new --out scored
"""


def _methods() -> list[str]:
    from .methods import REGISTRY

    return sorted(REGISTRY)


class _Help(argparse.HelpFormatter):
    """``--help`` names each option's default, unless it is empty or the help already says it."""

    def _get_help_string(self, action):
        h = action.help or ""
        if ("default" not in h and action.default is not None and action.default is not False
                and action.default != argparse.SUPPRESS
                and action.option_strings):
            h += " (default: %(default)s)"
        return h


def _show_defaults(p: argparse.ArgumentParser) -> None:
    """Every (sub)parser prints each option's default in ``--help``."""
    p.formatter_class = _Help
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _show_defaults(sub)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DefectbookError as e:
        print(f"defectbook: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: what ran is kept (records, executed notebooks), nothing half-written
        print("defectbook: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
