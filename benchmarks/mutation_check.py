"""Mutation check: does the test suite catch a wrong sign or constant in the methods' core equations?

Each mutation edits one line of a COPY of ``src/`` (the checkout is never touched), then runs the
tests named beside it against that copy. A mutation is *caught* when those tests fail. The same tests
first run once against an unmutated copy (per selection) and must pass there, so that a failure is the
mutation's and not one the tests already had. Prints one line per mutation and exits non-zero if any
survived or a selection failed unmutated.

    python benchmarks/mutation_check.py            # all mutations
    python benchmarks/mutation_check.py -k npad    # those whose name contains "npad"
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: name -> (file under src/defectbook, original text, mutated text, pytest selection)
MUTATIONS = {
    "npad: S = sqrt(A * B) -> sqrt(A + B)": (
        "methods/npad.py", "s = (a * bmap).sqrt()", "s = (a + bmap).sqrt()",
        "tests/unit/test_npad.py::test_npad_modules_combine_as_the_paper_says"),
    "npad: top-k score pairs ranks ascending -> descending": (
        "methods/npad.py", "return (m * e.sort(1).values).clamp_min(0).sqrt().mean(1)",
        "return (m * e.sort(1, descending=True).values).clamp_min(0).sqrt().mean(1)",
        "tests/unit/test_npad.py::test_shift_offsets_and_topk_score"),
    "npad: neighbour-min -> neighbour-max (radius sign)": (
        "methods/npad.py", "r = self.infer_radius if self.use_neighbour_min else 0",
        "r = 0 if self.use_neighbour_min else self.infer_radius",
        "tests/unit/test_npad.py::test_npad_modules_combine_as_the_paper_says"),
    "patchcore: Eq. 7 weight 1 - w -> 1 + w": (
        "methods/patchcore.py", "w = 1 - 1 / torch.exp(d - s_star).sum()", "w = 1 + 1 / torch.exp(d - s_star).sum()",
        "tests/unit/test_patchcore_spade.py::test_reweighting_is_eq7_computed_directly"),
    "trustmae: addressing softmax(-d) -> softmax(+d)": (
        "methods/trustmae.py", "w = torch.softmax(-dist, dim=1)", "w = torch.softmax(dist, dim=1)",
        "tests/unit/test_trustmae.py::test_normal_memory_cannot_reconstruct_an_inserted_defect"),
    "trustmae: Eq. 4 margin sign": (
        "methods/trustmae.py", "F.relu(two[:, 0] - two[:, 1] + margin)", "F.relu(two[:, 0] - two[:, 1] - margin)",
        "tests/unit/test_trustmae.py::test_margin_loss"),
    "trustmae: trust region r * d -> -r * d": (
        "methods/trustmae.py", "return (r * d).mean(), r, d1", "return (-r * d).mean(), r, d1",
        "tests/unit/test_trustmae.py"),
    "differnet: NLL ||z||^2/2 - log|J| -> + log|J|": (
        "flows.py", "return 0.5 * (z ** 2).sum(1) - log_jac_det", "return 0.5 * (z ** 2).sum(1) + log_jac_det",
        "tests/unit/test_flows.py"),
    "differnet: soft clamp atan(s / clamp) -> atan(s)": (
        "flows.py", "return lambda u: 0.636 * torch.atan(u / clamp)", "return lambda u: 0.636 * torch.atan(u)",
        "tests/unit/test_library_checks.py::test_soft_clamp_is_differnets_definition"),
}


def run(name: str, file: str, old: str, new: str, tests: str) -> tuple[bool, float]:
    """Run ``tests`` against a copy of ``src/`` with ``old`` replaced by ``new`` in ``file``: (failed, seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(REPO / "src", src, ignore=shutil.ignore_patterns("__pycache__"))
        target = src / "defectbook" / file
        text = target.read_text()
        if text.count(old) != 1:
            raise SystemExit(f"{name}: expected the original text once in {file}, found {text.count(old)} times")
        target.write_text(text.replace(old, new))
        env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1", DEFECTBOOK_OFFLINE="1")
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests.split()],
                           cwd=REPO, env=env, capture_output=True, text=True)
        return r.returncode != 0, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", default="", help="only mutations whose name contains this text")
    a = ap.parse_args()
    survived, clean = 0, {}
    for name, (file, old, new, tests) in MUTATIONS.items():
        if a.k not in name:
            continue
        if tests not in clean:   # the unmutated copy: the selection must pass
            failed, secs = run(name, file, old, old, tests)
            clean[tests] = not failed
            print(f"{'passes  ' if not failed else 'FAILS   '} {secs:6.1f} s  unmutated  [{tests}]", flush=True)
        if not clean[tests]:
            survived += 1
            continue
        caught, secs = run(name, file, old, new, tests)
        survived += not caught
        print(f"{'caught  ' if caught else 'SURVIVED'} {secs:6.1f} s  {name}  [{tests}]", flush=True)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
