"""The ``defectbook data`` command group: ``synth``, ``fetch``, ``check``."""
from __future__ import annotations

import argparse


def _cmd_synth(a) -> int:
    from .synthetic import ensure, generate

    if a.profile:
        from ..paths import cache_dir

        d = dict(a.load_profile(a.profile)["data"])
        if d.pop("dataset", "synthetic") != "synthetic":
            print(f"profile {a.profile!r} uses no synthetic data; nothing to write")
            return 0
        d.pop("categories", None)  # one dataset holds every category
        out = ensure(a.out or cache_dir() / "synthetic", progress=True, **d)
        print(f"synthetic data of profile {a.profile!r}: {out}")
        return 0
    if not a.out:
        raise SystemExit("defectbook data synth: give an output folder or --profile")
    out = generate(a.out, categories=a.categories or None, size=a.size, n_train=a.n_train,
                   n_test_good=a.n_test_good, n_test_defect=a.n_test_defect, seed=a.seed,
                   difficulty=a.difficulty, progress=True)
    print(f"wrote {out}")
    return 0


def _cmd_fetch(a) -> int:
    from . import resolve_root
    from .fetch import fetch

    root = a.root if a.root else resolve_root(None)
    print(f"dataset in {fetch(a.name, root, keep_archive=a.keep_archive, allow_unverified=a.allow_unverified)}")
    return 0


def _cmd_check(a) -> int:
    from .check import check

    report, problems = check(a.root, full=not a.quick)
    print(report)
    return 1 if problems else 0


def add_data_parser(subparsers, load_profile) -> argparse.ArgumentParser:
    """Add ``data`` with sub-commands ``synth``, ``fetch``, ``check`` (each sets ``func``). ``load_profile``:
    name -> the profile's dict (:func:`defectbook.pipeline.profiles.load`, passed in by the CLI: the data
    layer does not import the pipeline)."""
    from .fetch import SOURCES
    from .synthetic import CATEGORIES, DEFAULTS

    d = subparsers.add_parser("data", help="generate, download or check datasets")
    sub = d.add_subparsers(dest="data_command", required=True)

    s = sub.add_parser("synth", help="write the synthetic defect dataset (MVTec layout)")
    s.add_argument("out", nargs="?", help="output folder (new or empty); with --profile: the cache folder")
    s.add_argument("--profile", default=None, help="write the profile's synthetic dataset where experiments read it")
    s.add_argument("--size", type=int, default=DEFAULTS["size"], help="image side in pixels")
    s.add_argument("--n-train", type=int, default=DEFAULTS["n_train"], help="defect-free training images per category")
    s.add_argument("--n-test-good", type=int, default=DEFAULTS["n_test_good"],
                   help="defect-free test images per category")
    s.add_argument("--n-test-defect", type=int, default=DEFAULTS["n_test_defect"], help="per defect kind")
    s.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="random seed of the generator")
    s.add_argument("--difficulty", type=float, default=DEFAULTS["difficulty"], help=">1: subtler defects")
    s.add_argument("--categories", nargs="+", choices=list(CATEGORIES), default=None,
                   help="categories to write (default: all)")
    s.set_defaults(func=_cmd_synth, load_profile=load_profile)

    f = sub.add_parser("fetch", help="download, verify and extract a public dataset")
    f.add_argument("name", choices=list(SOURCES), help="dataset to download")
    f.add_argument("--root", default=None, help="data root (default: $DEFECTBOOK_DATA)")
    f.add_argument("--keep-archive", action="store_true", help="keep the downloaded archive after extracting it")
    f.add_argument("--allow-unverified", action="store_true",
                   help="download archives that have no pinned checksum (MTD, DAGM); they are reported UNVERIFIED")
    f.set_defaults(func=_cmd_fetch)

    c = sub.add_parser("check", help="report the datasets found under a folder and what is wrong")
    c.add_argument("root", help="folder to check (a data root or one dataset)")
    c.add_argument("--quick", action="store_true", help="read image headers only")
    c.set_defaults(func=_cmd_check)
    return d
