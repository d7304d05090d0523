"""The benchmark chapter: its profile validates, its configs build (and reuse the other chapters' keys),
and the paper-profile dry run of its notebooks completes."""
import pytest
import yaml

from defectbook import DefectbookError
from defectbook.data import elpv
from defectbook.pipeline import spec
from defectbook.pipeline.keys import key_of

BOOK_METHODS = {"padim", "npad", "patchcore", "spade", "knn", "ocsvm", "differnet", "ae_l2", "ae_ssim", "memae",
                "trustmae", "ndpnet"}




@pytest.mark.parametrize("profile", spec.PROFILES)
def test_profile_validates_and_compares_every_method(profile):
    S = spec.chapter("benchmark", profile)
    assert set(S.compare) == BOOK_METHODS == set(spec.LABELS) - {"ensemble"}
    assert S.methods == []                                  # the chapter sets up no method of its own
    for m in S.compare:                                     # the benchmark never becomes a method's home
        assert spec.default_chapter(m) != "benchmark"


def test_compare_must_name_methods_of_other_chapters(profile_dir):
    doc = yaml.safe_load((profile_dir / "benchmark.yaml").read_text())
    doc["cpu"]["compare"] = ["magic"]
    (profile_dir / "benchmark.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(DefectbookError, match=r"benchmark.yaml \[cpu\]: compare: unknown method .magic."):
        spec.load("cpu")
    doc["cpu"]["compare"] = []
    (profile_dir / "benchmark.yaml").write_text(yaml.safe_dump(doc))
    spec._read.cache_clear()
    with pytest.raises(DefectbookError, match=r"benchmark.yaml \[cpu\]: key 'methods' names no method"):
        spec.load("cpu")


@pytest.mark.parametrize("profile", spec.PROFILES)
def test_configs_build_with_each_methods_own_chapter(profile, monkeypatch):
    monkeypatch.delenv("DEFECTBOOK_DRY_RUN", raising=False)
    S = spec.chapter("benchmark", profile)
    for m in S.compare:
        home = spec.default_chapter(m)
        for d, c in S.pairs():
            cfg = S.config(m, d, c)
            assert cfg["spec"]["chapter"] == home and cfg["profile"] == profile
            assert cfg["params"] == spec.base_params(S.P, home, m, d, c)
            if d == "elpv":
                caps = S.section.get("datasets", {}).get("elpv", {}).get("split", {})
                assert all(cfg["split"].get(k) == v for k, v in caps.items() if v)


def test_synthetic_configs_coincide_with_the_methods_chapters(monkeypatch):
    """Same config -> same record key: the benchmark reuses the N-pad table's and TrustMAE Fig. 4's records."""
    monkeypatch.delenv("DEFECTBOOK_DRY_RUN", raising=False)
    B = spec.chapter("benchmark", "cpu")
    N = spec.chapter("npad", "cpu")
    assert key_of(B.config("patchcore", "synthetic", "wood")) == key_of(
        N.config("patchcore", "synthetic", "wood"))
    Tm = spec.chapter("trustmae", "cpu")
    cfg = B.config("memae", "synthetic", "wood", split=B.noisy(0.2))
    cfg["data"] = spec.synthetic_data(B.P, B.grids["noise_data"])    # as the noise_robustness notebook does
    assert key_of(cfg) == key_of(Tm.config("memae", "synthetic", "wood", split=Tm.noisy(0.2)))
    # ... and a different chapter's synthetic data gives a different key
    assert key_of(B.config("memae", "synthetic", "wood", split=B.noisy(0.2))) != key_of(cfg)


@pytest.mark.skipif(not elpv.available(), reason="elpv-dataset is not installed")
def test_cpu_profile_uses_elpv_both_module_types():
    S = spec.chapter("benchmark", "cpu")
    assert {("elpv", "mono"), ("elpv", "poly")} <= set(S.pairs())
    assert "elpv:mono" in S.grids["expensive_data"]


@pytest.mark.slow
def test_paper_dry_run_of_the_benchmark_notebooks(tmp_path, monkeypatch):
    """`defectbook reproduce --profile paper --dry-run --only 'benchmark/*'`: every notebook ok, pages
    labelled as a dry run, every record marked (paper architectures, random weights). The slowest test
    (several minutes): all twelve methods at the paper's architectures and image sizes on each data set,
    a few images each; the training methods' two optimiser steps at 256 px with VGG losses dominate."""
    import io

    from defectbook.book.execute import dry_run_setup, reproduce
    from defectbook.pipeline.store import Store

    for k in ("DEFECTBOOK_DATA", "DEFECTBOOK_RESULTS", "DEFECTBOOK_DRY_RUN", "DEFECTBOOK_CACHE"):
        monkeypatch.setenv(k, "")
    monkeypatch.setenv("DEFECTBOOK_CACHE", str(tmp_path / "cache"))
    out = dry_run_setup(tmp_path / "dry")
    log = io.StringIO()
    names = ["benchmark/all_methods", "benchmark/noise_robustness", "benchmark/fewshot", "benchmark/cost"]
    outcomes = reproduce("paper", names, out_dir=out, timeout=1800, stream=log, dry_run=True)
    assert [o.status for o in outcomes] == ["ok"] * 4, log.getvalue()
    for o in outcomes:
        page = (out / f"{o.notebook}.ipynb").read_text()
        assert "dry run: random weights" in page and "profile=paper" in page
    store = Store()
    methods = set()
    for r in (store.get(k) for k in store.keys()):
        assert r.config["dry_run"] and r.config["profile"] == "paper"
        methods.add(r.config["method"])
    assert methods == BOOK_METHODS
