"""The build report: experiments attributed to their notebook, computed vs reused, models trained vs
loaded, a report that survives a failed or interrupted notebook, the page rendered from the JSON."""
import json
import os
from pathlib import Path

import pytest
from helpers.toy import cfg

from defectbook import settings
from defectbook.book import buildreport
from defectbook.book import execute as reproduce
from defectbook.book import toc as toc_module
from defectbook.book.buildreport import aggregate, read_ledger, write, write_page
from defectbook.pipeline import ledger as ledger_module
from defectbook.pipeline import run as experiment
from defectbook.pipeline.models import model_path
from defectbook.pipeline.store import Store


@pytest.fixture
def ledger(isolated, monkeypatch):
    path = isolated / "ledger.jsonl"
    monkeypatch.setenv(ledger_module.LEDGER_ENV, str(path))
    return path


def _build(**kw):
    return {"id": "t", "profile": "smoke", "only": [], "started": 1000.0, "finished": None, "state": "running",
            "model_reuse": True, "machine": buildreport.machine(), "commit": "abc", "version": "x"} | kw


def test_experiments_are_attributed_to_their_notebook_and_reuse_is_counted(toy, ledger, monkeypatch, one_thread):
    monkeypatch.setenv(ledger_module.NOTEBOOK_ENV, "g/first")
    c = cfg(toy)
    rec = experiment.run(c)
    assert {"data_s", "features_fit_s", "features_predict_s"} <= set(rec.timings)
    assert rec.timings["features_fit_s"] > 0, "PaDiM's backbone passes are counted as feature extraction"
    assert rec.timings["features_fit_s"] <= rec.timings["fit_s"]
    monkeypatch.setenv(ledger_module.NOTEBOOK_ENV, "g/second")       # a second run of the same configs
    experiment.run(c)
    experiment.run(c)
    lines = read_ledger(ledger)
    assert [(e["notebook"], e["status"]) for e in lines] == [("g/first", "computed"), ("g/second", "reused"),
                                                              ("g/second", "reused")]
    outcomes = {"g/first": {"status": "ok", "seconds": 30.0}, "g/second": {"status": "ok", "seconds": 5.0}}
    rep = aggregate(_build(), outcomes, lines, ["g/first", "g/second"], now=1100.0)
    first, second = rep["notebooks"]
    assert (first["configs"], first["computed"], first["reused"]) == (1, 1, 0)
    assert (second["configs"], second["computed"], second["reused"]) == (1, 0, 2), "all reused, one config"
    assert second["phases"]["fit_s"] == 0 and second["phases"]["features_s"] == 0, "a reused record costs no fit"
    assert first["phases"]["features_s"] == pytest.approx(rec.timings["features_fit_s"]
                                                          + rec.timings["features_predict_s"], abs=0.01)
    assert rep["totals"]["computed"] == 1 and rep["totals"]["reused"] == 2
    assert rep["methods"][0]["method"] == "padim" and rep["methods"][0]["computed"] == 1


def test_models_trained_then_loaded_and_the_switch_that_turns_reuse_off(toy, ledger, monkeypatch, one_thread):
    monkeypatch.setenv("DEFECTBOOK_MODEL_LIMIT_MB", "0")                # run() keeps nothing
    monkeypatch.setenv(ledger_module.NOTEBOOK_ENV, "g/pictures")
    c = cfg(toy, device="cpu")
    experiment.fitted(c)
    experiment.fitted(c)
    monkeypatch.setenv(ledger_module.REUSE_ENV, "0")
    experiment.fitted(c)                                                  # the saved model is ignored
    other = cfg(toy, device="cpu", params={"d": 8, "batch_size": 8})
    experiment.fitted(other)
    assert not model_path(other).exists(), "nothing saved with model reuse off"
    lines = read_ledger(ledger)
    assert [e["status"] for e in lines] == ["trained", "loaded", "trained", "trained"]
    rep = aggregate(_build(), {"g/pictures": {"status": "ok", "seconds": 9.0}}, lines, ["g/pictures"], now=1010.0)
    row = rep["notebooks"][0]
    assert (row["models_trained"], row["models_loaded"], row["configs"]) == (3, 1, 0)
    assert row["phases"]["model_load_s"] > 0 and row["phases"]["fit_s"] > 0


def test_a_loaded_model_counts_the_fit_time_it_saved(toy, ledger, monkeypatch, one_thread, tmp_path):
    monkeypatch.setenv(ledger_module.NOTEBOOK_ENV, "g/pictures")
    c = cfg(toy, device="cpu")
    rec = experiment.run(c)                                               # keeps the fitted model
    experiment.fitted(c)                                                  # ... which is loaded, not trained
    model = [e for e in read_ledger(ledger) if e["kind"] == "model"]
    assert [e["status"] for e in model] == ["loaded"]
    assert model[0]["fit_s_saved"] == rec.timings["fit_s"] > 0
    rep = aggregate(_build(state="done", finished=1010.0), {"g/pictures": {"status": "ok", "seconds": 9.0}},
                    read_ledger(ledger), ["g/pictures"])
    assert rep["totals"]["fit_s_saved"] == pytest.approx(rec.timings["fit_s"], abs=0.1)
    write(rep, tmp_path)
    assert "saved about" in write_page(tmp_path).read_text()


def test_ledger_lines_from_several_processes_never_interleave(isolated):
    import multiprocessing as mp

    path = isolated / "l.jsonl"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(path, i)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 800 and all(json.loads(x)["pad"] == "x" * 3000 for x in lines)


def _append_many(path, i):
    for j in range(200):
        ledger_module.append({"kind": "experiment", "who": i, "j": j, "pad": "x" * 3000}, path)


def test_report_survives_a_failed_and_an_interrupted_notebook(tmp_path):
    outcomes = {"__started__": {"g/a": 1000.0, "g/b": 1010.0, "g/c": 1020.0},
                "g/a": {"status": "ok", "seconds": 10.0}, "g/b": {"status": "FAILED", "seconds": 3.0, "error": "boom"}}
    ledger = [{"kind": "experiment", "notebook": "g/c", "key": "k", "method": "padim", "status": "computed",
               "phases": {"fit_s": 4.0, "predict_s": 1.0, "data_s": 0.5}}]
    rep = aggregate(_build(state="interrupted", finished=1030.0), outcomes, ledger, ["g/a", "g/b", "g/c", "g/d"])
    status = {r["notebook"]: r["status"] for r in rep["notebooks"]}
    assert status == {"g/a": "ok", "g/b": "FAILED", "g/c": "interrupted"}, "g/d never started: not listed"
    c = rep["notebooks"][2]
    assert c["seconds"] == 10.0 and c["computed"] == 1 and c["phases"]["other_s"] == pytest.approx(4.5)
    assert rep["totals"]["failed"] == 2 and rep["build"]["wall_s"] == 30.0
    write(rep, tmp_path)
    page = (tmp_path / "build_report.md").read_text()
    assert "interrupted" in page and "boom" in page and "| g/c | interrupted |" in page


def test_page_renders_from_the_json(tmp_path):
    outcomes = {"g/slow": {"status": "ok", "seconds": 120.0}, "g/fast": {"status": "ok", "seconds": 2.0}}
    ledger = [{"kind": "experiment", "notebook": "g/slow", "key": "k1", "method": "npad", "status": "computed",
               "device": "cpu", "phases": {"fit_s": 50.0, "predict_s": 40.0, "features_fit_s": 20.0,
                                           "features_predict_s": 30.0, "data_s": 5.0}},
              {"kind": "experiment", "notebook": "g/fast", "key": "k1", "method": "npad", "status": "reused",
               "device": "cpu", "phases": {}},
              {"kind": "model", "notebook": "g/fast", "key": "k1", "method": "npad", "status": "loaded",
               "device": "cpu", "phases": {"model_load_s": 0.2}}]
    rep = aggregate(_build(state="done", finished=1130.0, devices=["cpu"]), outcomes, ledger, ["g/slow", "g/fast"])
    slow = rep["notebooks"][0]
    assert slow["phases"] == {"data_s": 5.0, "features_s": 50.0, "fit_s": 30.0, "predict_s": 10.0,
                              "model_load_s": 0.0, "other_s": 25.0}
    write(rep, tmp_path)
    assert json.loads((tmp_path / "build_report.json").read_text())["totals"]["models_loaded"] == 1
    page = write_page(tmp_path).read_text()
    rows = [line for line in page.splitlines() if line.startswith("| g/")]
    assert [r.split("|")[1].strip() for r in rows] == ["g/slow", "g/fast"], "slowest first"
    assert "**Provenance:**" in page and "profile `smoke`" in page and "device cpu" in page and "commit abc" in page
    assert "build_report.png" in page and (tmp_path / "build_report.png").stat().st_size > 1000
    assert "130 s (2.2 min)" in page, "the whole batch's wall time"


def test_page_without_a_report_lists_the_executed_notebooks(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"duration": 12.5}
    (tmp_path / "g").mkdir()
    nbformat.write(nb, tmp_path / "g" / "x.ipynb")
    page = write_page(tmp_path).read_text()
    assert "No build report yet" in page and "| g/x | ok | 12.5 |" in page


def test_cli_switch_turns_model_reuse_off(monkeypatch):
    from defectbook import cli

    seen = {}
    monkeypatch.setattr(reproduce, "reproduce", lambda *a, **kw: seen.update(kw) or [])
    assert cli.main(["reproduce", "--profile", "smoke", "--only", "x", "--no-model-reuse"]) == 0
    assert seen["model_reuse"] is False
    cli.main(["reproduce", "--profile", "smoke", "--only", "x"])
    assert seen["model_reuse"] is None, "default: as DEFECTBOOK_REUSE_MODELS says (on)"
    monkeypatch.setenv(ledger_module.REUSE_ENV, "0")
    assert not settings.model_reuse()
    monkeypatch.delenv(ledger_module.REUSE_ENV)
    assert settings.model_reuse()


def test_toc_lists_the_build_report_page():
    files = [c["file"] for p in toc_module.toc()["parts"] for c in p["chapters"]]
    assert toc_module.BUILD_REPORT_PAGE in files


NOTEBOOK = '''# %% [markdown]
# # {name}

# %% tags=["parameters"]
profile = "smoke"

# %%
import os
from defectbook.pipeline import run as experiment
from defectbook.pipeline.models import model_path
from helpers.toy import cfg
experiment.run(cfg(os.environ["TOY_ROOT"]))
{extra}
'''


@pytest.mark.slow
def test_batch_writes_the_report_with_each_notebook_attributed(toy, monkeypatch, tmp_path):
    """Two real kernel runs (papermill): the first computes, the second reuses and then fails; the report
    beside the executed notebooks names both, with the failure, and the page is written."""
    src = tmp_path / "nbs" / "notebooks" / "g"
    src.mkdir(parents=True)
    (src / "a.py").write_text(NOTEBOOK.format(name="a", extra=""))
    (src / "b.py").write_text(NOTEBOOK.format(name="b", extra="raise RuntimeError('deliberate')"))
    monkeypatch.setenv("TOY_ROOT", str(toy))
    monkeypatch.setenv("PYTHONPATH",
                       os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(reproduce, "discover", lambda only=None, base=None: [src / "a.py", src / "b.py"])
    out = tmp_path / "executed"
    outcomes = reproduce.reproduce("smoke", out_dir=out, echo=None, log_file=tmp_path / "batch.log")
    assert [o.status for o in outcomes] == ["ok", "FAILED"]
    rep = json.loads((out / "build_report.json").read_text())
    rows = {r["notebook"]: r for r in rep["notebooks"]}
    assert (rows["g/a"]["computed"], rows["g/a"]["reused"]) == (1, 0)
    assert (rows["g/b"]["computed"], rows["g/b"]["reused"], rows["g/b"]["status"]) == (0, 1, "FAILED")
    assert rep["build"]["state"] == "done" and rep["build"]["model_reuse"] is True
    assert "deliberate" in (out / "build_report.md").read_text()
    assert Path(rep["build"]["ledger"]).is_file() and os.environ.get(ledger_module.LEDGER_ENV) is None
    import nbformat

    cells = nbformat.read(out / "g" / "a.ipynb", as_version=4).cells
    assert not any(reproduce.IDENTITY_TAG in c.metadata.get("tags", []) for c in cells), "the hidden cell is dropped"


@pytest.mark.slow
def test_experiments_on_a_dask_cluster_are_attributed_by_the_kernel(toy, ledger, monkeypatch):
    """On a cluster the workers compute; the notebook's process writes the ledger lines (computed for the
    missing records, reused for the others) under its own notebook name."""
    pytest.importorskip("distributed")
    from defectbook.pipeline import executors

    monkeypatch.setenv(ledger_module.NOTEBOOK_ENV, "g/cluster")
    configs = [cfg(toy, seed=s, params={"d": 8, "batch_size": 8}) for s in (0, 1)]
    experiment.run(configs[0])                                           # one record exists already
    cluster = executors.start_local(1, dashboard_address=":0", quiet=True)
    try:
        monkeypatch.setenv(executors.ENV, cluster.scheduler_address)
        experiment.run_many(configs)
    finally:
        executors._clients.pop(cluster.scheduler_address, None)
        cluster.close()
    lines = read_ledger(ledger)
    assert [(e["notebook"], e["status"], e.get("where")) for e in lines] == [
        ("g/cluster", "computed", None), ("g/cluster", "reused", "cluster"), ("g/cluster", "computed", "cluster")]
    # the worker's phase times travel with the record: the report's fit and predict columns are not zero
    on_worker = Store().get(lines[2]["key"]).timings
    assert lines[2]["phases"]["fit_s"] == round(on_worker["fit_s"], 3) > 0 and lines[1]["phases"] == {}
    rep = aggregate(_build(id="c", state="done", started=0.0, finished=1.0, cluster="1"),
                    {"g/cluster": {"status": "ok", "seconds": 0.5}}, lines, ["g/cluster"])
    assert rep["notebooks"][0]["phases"]["fit_s"] > 0 and rep["methods"][0]["fit_s"] > 0


def test_an_interrupted_batch_leaves_a_report(isolated, monkeypatch, tmp_path):
    """Ctrl-C in the second notebook: the report says interrupted, keeps the first notebook's row and
    the second's experiments so far, and the batch's variables are restored."""
    nbs = [tmp_path / "notebooks" / "g" / f"{n}.py" for n in ("a", "b", "c")]

    def fake_execute(nb, out, profile, params, timeout):
        ledger_module.append({"kind": "experiment", "notebook": f"g/{nb.stem}", "key": nb.stem, "method": "padim",
                            "status": "computed", "phases": {"fit_s": 1.0}})
        if nb.stem == "b":
            raise KeyboardInterrupt
        return reproduce.Outcome(f"g/{nb.stem}", "ok", 2.0)

    monkeypatch.setattr(reproduce, "discover", lambda only=None, base=None: nbs)
    monkeypatch.setattr(reproduce, "check_notebook_params", lambda nbs, params: None)
    monkeypatch.setattr(reproduce, "execute", fake_execute)
    monkeypatch.delenv(ledger_module.REUSE_ENV, raising=False)
    out = tmp_path / "executed"
    with pytest.raises(KeyboardInterrupt):
        reproduce.reproduce("smoke", out_dir=out, echo=None, log_file=tmp_path / "b.log", model_reuse=False)
    rep = json.loads((out / "build_report.json").read_text())
    assert rep["build"]["state"] == "interrupted" and rep["build"]["model_reuse"] is False
    assert [(r["notebook"], r["status"], r["computed"]) for r in rep["notebooks"]] == [
        ("g/a", "ok", 1), ("g/b", "interrupted", 1)], "g/c never started"
    assert "interrupted" in (out / "build_report.md").read_text()
    assert ledger_module.REUSE_ENV not in os.environ and ledger_module.LEDGER_ENV not in os.environ


def test_page_shows_each_notebooks_change_from_the_previous_build(tmp_path):
    """The previous build is the latest earlier report of the same profile in the store's builds folder."""
    builds = tmp_path / "builds"
    builds.mkdir()
    old = aggregate(_build(id="old", state="done", started=500.0, finished=600.0),
                    {"g/a": {"status": "ok", "seconds": 40.0}, "g/b": {"status": "ok", "seconds": 10.0}}, [],
                    ["g/a", "g/b"])
    (builds / "old.json").write_text(json.dumps(old))
    other = aggregate(_build(id="other", profile="paper", state="done", started=700.0, finished=800.0),
                      {"g/a": {"status": "ok", "seconds": 1.0}}, [], ["g/a"])
    (builds / "other.json").write_text(json.dumps(other))   # another profile: never compared
    (builds / "junk.json").write_text("not json")
    rep = aggregate(_build(id="new", state="done", started=1000.0, finished=1100.0),
                    {"g/a": {"status": "ok", "seconds": 50.0}, "g/b": {"status": "ok", "seconds": 5.0},
                     "g/c": {"status": "ok", "seconds": 3.0}}, [], ["g/a", "g/b", "g/c"])
    write(rep, tmp_path / "out", archive=builds / "new.json", before=buildreport.previous(builds, rep["build"]))
    saved = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert saved["previous"]["id"] == "old"
    assert {r["notebook"]: r["previous_s"] for r in saved["notebooks"]} == {"g/a": 40.0, "g/b": 10.0, "g/c": None}
    page = (tmp_path / "out" / "build_report.md").read_text()
    assert "| g/a | ok | 50.0 | +10.0 s (1.25x) |" in page and "| g/b | ok | 5.0 | -5.0 s (0.50x) |" in page
    assert "| g/c | ok | 3.0 |  |" in page and "`old`" in page


def test_notebooks_run_at_once_start_with_the_previous_builds_longest(tmp_path, monkeypatch):
    """On a cluster the notebooks start longest first by the previous build's times (one not in it first of all),
    so that the batch does not end on one long page; that build is looked up once, when the batch starts."""
    monkeypatch.setenv("DEFECTBOOK_CACHE", str(tmp_path / "cache"))
    builds = tmp_path / "cache" / "builds"
    builds.mkdir(parents=True)
    old = aggregate(_build(id="old", state="done", started=500.0, finished=600.0),
                    {"g/a": {"status": "ok", "seconds": 5.0}, "g/b": {"status": "ok", "seconds": 40.0},
                     "g/d": {"status": "ok", "seconds": 12.0}}, [], ["g/a", "g/b", "g/d"])
    (builds / "old.json").write_text(json.dumps(old))
    nbs = [Path(f"g/{n}.py") for n in "abcd"]
    report = reproduce.BuildReport(nbs, "smoke", None, tmp_path / "out", None, None, tmp_path / "b.log")
    try:
        assert report.before["id"] == "old"
        assert [nb.stem for nb in report.longest_first(nbs)] == ["c", "b", "d", "a"]
        (builds / "old.json").unlink()   # the comparison stays the one found at the start
        report.outcomes["g/a"] = {"status": "ok", "seconds": 6.0}
        report.write()
        assert json.loads(report.path.read_text())["previous"]["id"] == "old"
    finally:
        report.close()


def test_provenance_of_a_cluster_build_gives_the_workers_threads(tmp_path):
    rep = aggregate(_build(id="c", state="done", started=0.0, finished=1.0, cluster="auto", worker_threads="1"),
                    {"g/a": {"status": "ok", "seconds": 1.0}}, [], ["g/a"])
    write(rep, tmp_path)
    page = (tmp_path / "build_report.md").read_text()
    assert "1 torch thread(s) per Dask worker" in page and "a Dask cluster (auto)" in page
    write(aggregate(_build(id="s", state="done", started=0.0, finished=1.0), {}, [], []), tmp_path / "serial")
    assert "torch threads per process" in (tmp_path / "serial" / "build_report.md").read_text()
