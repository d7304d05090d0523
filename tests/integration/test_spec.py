"""The experiment spec: profile schema validation, the one config builder, evaluate's method x profile
matrix, and every notebook's paper-profile configs checked against their detectors' signatures."""
import importlib
import inspect
import json
from pathlib import Path

import pytest
import yaml

from defectbook import DefectbookError, cli
from defectbook.book.execute import LAST
from defectbook.methods import REGISTRY, build
from defectbook.pipeline import spec

ROOT = Path(__file__).resolve().parents[2]




def edit(path, fn):
    doc = yaml.safe_load(path.read_text())
    fn(doc)
    path.write_text(yaml.safe_dump(doc))


@pytest.mark.parametrize("change, match", [
    (lambda d: d["cpu"].update(colour="red"), r"padim.yaml \[cpu\]: unknown key 'colour'"),
    (lambda d: d["cpu"]["methods"]["padim"].update(dd=3),
     r"padim.yaml \[cpu\] methods.padim: padim has no parameter 'dd'"),
    (lambda d: d["cpu"]["methods"]["padim"].update(d="many"),
     r"padim.yaml \[cpu\] methods.padim: padim parameter 'd' has the wrong type"),
    (lambda d: d["paper"].pop("transform"), r"padim.yaml \[paper\]: missing key 'transform'"),
    (lambda d: d["cpu"].update(methods={}), r"padim.yaml \[cpu\]: key 'methods' names no method"),
    (lambda d: d["cpu"]["methods"].update(magic={}), r"padim.yaml \[cpu\]: methods.magic: unknown method 'magic'"),
    (lambda d: d["smoke"].update(categories=3), r"padim.yaml \[smoke\]: key 'categories' must be list or str"),
    (lambda d: d["smoke"]["transform"].update(resize="big"),
     r"padim.yaml \[smoke\] transform: key 'resize' must be int"),
    (lambda d: d.pop("smoke"), r"padim.yaml lacks smoke"),
])
def test_a_broken_profile_file_names_the_file_and_key(profile_dir, change, match):
    edit(profile_dir / "padim.yaml", change)
    with pytest.raises(DefectbookError, match=match):
        spec.load("cpu")


def test_grids_must_have_the_same_names_and_kinds_in_every_profile(profile_dir):
    edit(profile_dir / "npad.yaml", lambda d: d["paper"]["grids"].pop("shots"))
    with pytest.raises(DefectbookError, match=r"npad.yaml \[paper\] grids: missing key 'shots'"):
        spec.load("smoke")
    spec._read.cache_clear()
    edit(profile_dir / "npad.yaml", lambda d: d["paper"]["grids"].update(shots={"a": 1}))
    with pytest.raises(DefectbookError, match="grids.shots"):
        spec.load("smoke")


def test_common_file_is_validated(profile_dir):
    edit(profile_dir / "common.yaml", lambda d: d["cpu"].update(device=3))
    with pytest.raises(DefectbookError, match=r"common.yaml \[cpu\]: key 'device' must be str"):
        spec.load("cpu")


def test_build_layers_chapter_category_dataset_and_overrides():
    """Params: the chapter's, then its category rules, then the dataset's entry, then overrides. Transform:
    the dataset's, else the method's, else the chapter's. Generator settings for synthetic data only; real
    data capped where the profile caps it (keys given in ``split`` win)."""
    paper, cpu = spec.load("paper"), spec.load("cpu")
    tm = paper["trustmae"]
    rules = [r for r in tm["category_params"] if "trustmae" in r.get("methods", tm["methods"])]
    screw_rule = {k: v for r in rules if "screw" in r["categories"] for k, v in r["params"].items()}
    assert screw_rule and not any("wood" in r["categories"] for r in rules)
    c = spec.make_config("paper", "trustmae", "trustmae", "mvtec", "screw", {"delta2": 5.0})
    wood = spec.make_config("paper", "trustmae", "trustmae", "mvtec", "wood")
    assert wood["params"] == tm["methods"]["trustmae"] and c["device"] == paper["device"]
    assert c["params"] == {**wood["params"], **screw_rule, "delta2": 5.0} != wood["params"]
    assert (
        spec.make_config("paper", "trustmae", "ae_l2", "mvtec", "wood")["transform"] == tm["method_transforms"]["ae_l2"]
    )
    assert wood["transform"] == tm["transform"] != tm["method_transforms"]["ae_l2"]
    dn = cpu["differnet"]
    mtd = spec.make_config("cpu", "differnet", "knn", "mtd")
    assert mtd["params"] == {**dn["methods"]["knn"], **dn["datasets"]["mtd"]["params"]} != dn["methods"]["knn"]
    assert mtd["transform"] == dn["datasets"]["mtd"]["transform"] and mtd["data"] == {}
    syn = spec.make_config("cpu", "trustmae", "memae", "synthetic", "wood")
    assert "dataset" not in syn["data"] and cpu["trustmae"]["data"].items() <= syn["data"].items()
    assert {k: v for k, v in cpu["data"].items() if k not in cpu["trustmae"]["data"] and k != "dataset"}.items() \
        <= syn["data"].items()
    smoke = spec.load("smoke")
    capped = spec.make_config("smoke", "npad", "npad", "mtd")["split"]
    assert capped["kind"] == "clean" and 1 <= capped["max_train"] <= smoke["real_max_train"] and capped["max_test"] >= 1
    assert (
        spec.make_config("smoke", "npad", "npad", "mtd", split={"kind": "clean", "max_train": 3})["split"]["max_train"]
        == 3
    )
    assert spec.make_config("smoke", "npad", "npad", "synthetic", "weave")["split"] == {"kind": "clean"}
    ens = spec.make_config("cpu", "npad", "ensemble", "synthetic", "weave")
    assert ens["params"] == {**spec.make_config("cpu", "npad", "npad", "synthetic", "weave")["params"],
                             **cpu["npad"]["methods"]["ensemble"]}
    assert ens["transform"] == cpu["npad"]["method_transforms"]["ensemble"] != cpu["npad"]["transform"]
    assert spec.differences(c) == {"delta2": 5.0}
    assert spec.differences(syn) == {}


def test_every_config_carries_the_profile_device_and_none_is_hashed_by_it():
    from defectbook.pipeline.keys import key_of

    for p in spec.PROFILES:
        c = spec.make_config(p, "padim", "padim", "synthetic", "weave")
        assert c["device"] == spec.load(p)["device"]
    c = spec.make_config("cpu", "padim", "padim", "synthetic", "weave")
    assert key_of(c) == key_of({**c, "device": "cuda"})


def test_categories_name_the_primary_dataset_and_all_never_pulls_synthetic_into_mvtec(tmp_path, monkeypatch):
    from defectbook.data.replica import MVTEC, write_replica

    monkeypatch.delenv("DEFECTBOOK_DRY_RUN", raising=False)
    root = write_replica(tmp_path, size=32, n_train=1, n_good=1, n_defect=1)
    S = spec.chapter("differnet", "paper", data_root=root)
    assert S.categories() == [("mvtec", c) for c in sorted(MVTEC)]
    fig7 = S.configs("differnet", categories=S.grids["fewshot_categories"], real=S.grids["fewshot_real"])
    assert {(c["dataset"], c["category"]) for c in fig7} == {("mvtec", "bottle"), ("mvtec", "hazelnut"),
                                                             ("mvtec", "screw"), ("mvtec", "tile"), ("mtd", None)}
    assert all(c["dataset"] != "synthetic" for c in spec.chapter("padim", "paper", data_root=root).configs("padim"))
    assert spec.chapter("trustmae", "paper", data_root=root).categories(["cable"]) == [("mvtec", "cable")]
    with pytest.raises(DefectbookError, match="not a synthetic category"):
        spec.chapter("padim", "cpu").categories(["bottle"])


def test_noisy_split_keeps_one_test_set_across_noise_levels(tmp_path):
    from defectbook.data.mvtec import load_mvtec
    from defectbook.data.replica import write_replica
    from defectbook.data.splits import noisy_split

    split = load_mvtec(write_replica(tmp_path, size=32, n_train=6, n_good=2, n_defect=4), "bottle")
    tests = {r: [s.path for s in noisy_split(split, r, seed=0, fixed_test=True).test] for r in (0.0, 0.1, 0.3, 0.4)}
    assert len({tuple(t) for t in tests.values()}) == 1
    trains = {r: {s.path for s in noisy_split(split, r, seed=0, fixed_test=True).train if s.label} for r in (0.1, 0.3)}
    assert trains[0.1] <= trains[0.3] and trains[0.3]
    assert len(noisy_split(split, 0.3, seed=0).test) < len(noisy_split(split, 0.0, seed=0).test)   # the old protocol


def _signature_check(config):
    """The config's params bind to its detector's __init__ (and pass its own validation)."""
    m = config["method"]
    spec.check_profile_params(m, config["params"])
    module, cls = REGISTRY[m].split(":")
    inspect.signature(getattr(importlib.import_module(module), cls)).bind(**config["params"])
    build(m, **config["params"])
    if m == "ensemble":
        inner = dict(config["params"])
        spec.check_profile_params(inner.pop("method"), {k: v for k, v in inner.items() if k != "sizes"})


EVALUATED = sorted(m for m in REGISTRY if spec.method_chapters(m))


def test_every_registered_method_has_profile_settings():
    assert EVALUATED == sorted(REGISTRY)


@pytest.mark.parametrize("profile", spec.PROFILES)
@pytest.mark.parametrize("method", EVALUATED)
def test_evaluate_config_for_every_method_and_profile(method, profile, monkeypatch):
    """The matrix `defectbook evaluate` serves: the profile's settings, checked against __init__."""
    monkeypatch.delenv("DEFECTBOOK_DRY_RUN", raising=False)
    ch = spec.default_chapter(method)
    P = spec.load(profile)
    c = spec.make_config(profile, ch, method, "synthetic", "weave")
    assert c["params"] == spec.base_params(P, ch, method, "synthetic", "weave")
    assert c["transform"] == P[ch].get("method_transforms", {}).get(method, P[ch]["transform"])
    _signature_check(c)


def test_evaluate_cli_errors_list_the_known_names(capsys):
    assert cli.main(["evaluate", "--method", "nope", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert "unknown method 'nope'" in err or "no profile sets up method 'nope'" in err
    assert "padim" in err and "trustmae" in err
    assert cli.main(["evaluate", "--method", "padim", "--dataset", "imagenet", "--profile", "smoke"]) == 2
    assert "known: synthetic, mvtec, mtd, dagm" in capsys.readouterr().err
    assert cli.main(["evaluate", "--method", "padim", "--category", "bottle", "--profile", "smoke"]) == 2
    assert "known: weave, wood" in capsys.readouterr().err
    assert cli.main(["evaluate", "--method", "padim", "--chapter", "npd", "--profile", "smoke"]) == 2
    assert "unknown chapter 'npd'; known: benchmark, differnet, ndpnet, npad" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--method", "padim", "--profile", "fast"])
    help_text = cli.parser()._subparsers._group_actions[0].choices["evaluate"].format_help()
    for word in ["ae_ssim", "ensemble", "dagm", "paper", "data=mvtec", "device=auto"]:
        assert word in help_text


def test_evaluate_runs_with_the_profile_settings(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEFECTBOOK_RESULTS", str(tmp_path / "r"))
    monkeypatch.setenv("DEFECTBOOK_CACHE", str(tmp_path / "c"))
    assert cli.main(["evaluate", "--method", "knn", "--profile", "smoke", "--category", "weave"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["config"]["params"] == spec.load("smoke")["differnet"]["methods"]["knn"]
    assert out["config"]["device"] == "cpu" and 0 <= out["metrics"]["image_auroc"] <= 1


def test_provenance_names_params_that_differ_from_the_profile_and_labels_dry_runs(monkeypatch):
    from types import SimpleNamespace

    from defectbook.book.report import provenance

    def rec(config):
        return SimpleNamespace(config=config, extras={"backbone": "x"}, env={"defectbook": "0", "git_commit": "abc"})

    monkeypatch.delenv("DEFECTBOOK_DRY_RUN", raising=False)
    S = spec.chapter("padim", "cpu", d=20)
    line = provenance([rec(c) for c in S.configs("padim", categories=["weave"])])
    assert "params differing from the profile: d=20" in line and "dry run" not in line
    plain = provenance([rec(c) for c in spec.chapter("padim", "cpu").configs("padim", categories=["weave"])])
    assert "differing" not in plain
    monkeypatch.setenv("DEFECTBOOK_DRY_RUN", "1")
    dry = spec.chapter("padim", "paper").config("padim", "mvtec", "bottle")
    assert dry["dry_run"] and dry["params"]["weights"] == "random" and dry["split"]["max_train"] == 4
    line = provenance([rec(dry)])
    assert "dry run: random weights" in line and "differing" not in line


# --- every notebook's paper-profile configs -----------------------------------------------------

class _Stop(Exception):
    pass


def notebook_configs(nb: Path, profile: str) -> list[dict]:
    """The configs notebook ``nb`` hands to the runner at ``profile`` (cells executed until the first
    one that needs results; the runner returns nothing)."""
    import jupytext

    from defectbook.pipeline import run as experiment

    seen: list[dict] = []

    def grab_many(configs, *a, **k):
        seen.extend(list(configs))
        return []

    def grab_one(config, *a, **k):
        seen.append(config)
        raise _Stop

    cells = [c.source for c in jupytext.read(nb).cells if c.cell_type == "code"]
    ns: dict = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(experiment, "run_many", grab_many)
        mp.setattr(experiment, "run", grab_one)
        mp.setattr(experiment, "fitted", grab_one)
        mp.setattr("matplotlib.pyplot.show", lambda *a, **k: None)
        for i, src in enumerate(cells):
            if i == 0:
                src += f"\nprofile = {profile!r}"
            try:
                exec(compile(src, str(nb), "exec"), ns)
            except _Stop:
                break
            except Exception:  # noqa: BLE001 - later cells need results the stub does not give
                break
    return seen


NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").glob("*/*.py") if not p.name.startswith("_"))


#: pages that build no config: the reports that only read records (LAST) and the "At larger scale" pages,
#: drawn from the committed results bundle
READ_ONLY = {f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS if "scale_page(" in p.read_text()} | set(LAST)


@pytest.mark.parametrize("nb", [p for p in NOTEBOOKS if f"{p.parent.name}/{p.stem}" not in READ_ONLY],
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_notebook_paper_configs_fit_their_detectors(nb, tmp_path, monkeypatch):
    """Every notebook's paper-profile configs (on a replica data root, as in the dry run) carry the
    paper architecture and bind to their detector's __init__."""
    import matplotlib

    matplotlib.use("Agg")
    from defectbook.data.replica import write_replica

    monkeypatch.setenv("DEFECTBOOK_DATA",
                       str(write_replica(tmp_path / "data", size=32, n_train=1, n_good=1, n_defect=1)))
    monkeypatch.setenv("DEFECTBOOK_DRY_RUN", "1")
    configs = notebook_configs(nb, "paper")
    assert configs, f"{nb.name} built no config"
    P = spec.load("paper")
    for c in configs:
        assert c["profile"] == "paper" and c["dry_run"] and c["device"] == "auto"
        assert c["dataset"] in ("mvtec", "mtd", "dagm", "elpv"), c["dataset"]
        _signature_check(c)
        chapter = c["spec"]["chapter"]
        base = spec.base_params(P, chapter, c["method"], c["dataset"], c["category"])
        for k in ("backbone", "layers", "width", "latent", "n_blocks", "n_down", "feature_net", "hidden_layers"):
            if k in base and k not in spec.differences(c):
                assert c["params"][k] == base[k]
        if isinstance(base.get("d"), int):   # capped in a dry run, after the check that it selects channels
            assert c["params"]["d"] <= spec.DRY_RUN["params"]["d"]
        for k in ("batch_size", "feature_batch"):   # a padded batch of 32 for 4 images would cost 8x
            if k in c["params"]:
                assert c["params"][k] <= spec.DRY_RUN["params"][k], (k, c["params"][k])
        if c["split"]["kind"] == "noisy":
            assert c["split"]["fixed_test"] is True   # one test set for every noise level
    # findings of a review of these pages, fixed
    name = f"{nb.parent.name}/{nb.stem}"
    if name == "trustmae/fig9_trust_threshold":
        assert {c["category"] for c in configs} == {"cable"}
    if name == "npad/fig2e_backbones":
        assert {c["params"]["backbone"] for c in configs} == {"wide_resnet50_2", "resnet18", "resnext50_32x4d",
                                                              "wide_resnet101_2", "resnext101_32x8d"}
    if name == "npad/table5_weighting":
        from defectbook.methods.npad import ABLATIONS

        assert all(all(c["params"][k] == v for k, v in ABLATIONS["Exper1"].items()) for c in configs)
    if name == "differnet/fig7_fewshot":
        assert {c["category"] for c in configs if c["dataset"] == "mvtec"} <= {"bottle", "hazelnut", "screw", "tile"}


# --- the paper-profile dry run (CI: the documented subset, reproduce.DRY_RUN_CI) ----------------

@pytest.mark.slow
def test_paper_dry_run_of_the_ci_subset(tmp_path, monkeypatch):
    """`defectbook reproduce --profile paper --dry-run` on the CI subset: every notebook ok, every
    page labelled as a dry run, every record marked and with random weights. Minutes: every notebook of the
    subset runs the paper's architectures (WRN-50, VGG, 256 px) on a few images; that is what it checks."""
    import io

    from defectbook.book.execute import DRY_RUN_CI, dry_run_setup, reproduce
    from defectbook.pipeline.store import Store

    for k in ("DEFECTBOOK_DATA", "DEFECTBOOK_RESULTS", "DEFECTBOOK_DRY_RUN", "DEFECTBOOK_CACHE"):
        monkeypatch.setenv(k, "")
    monkeypatch.setenv("DEFECTBOOK_CACHE", str(tmp_path / "cache"))
    out = dry_run_setup(tmp_path / "dry")
    log = io.StringIO()
    outcomes = reproduce("paper", list(DRY_RUN_CI), out_dir=out, timeout=900, stream=log, dry_run=True)
    assert [o.status for o in outcomes] == ["ok"] * len(outcomes), log.getvalue()
    for o in outcomes:
        page = (out / f"{o.notebook}.ipynb").read_text()
        assert "dry run: random weights" in page and "profile=paper" in page
    store = Store()
    assert len(store) > 0
    for r in (store.get(k) for k in store.keys()):
        assert r.config["dry_run"] and r.config["profile"] == "paper" and r.config["device"] == "auto"
        assert r.config["params"].get("weights", "random") == "random"
