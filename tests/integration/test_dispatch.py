"""Experiment dispatch on a real Dask LocalCluster (2 worker processes, 1 torch thread each) and the
shared store under concurrent writers. No mocks: real processes, real kills."""
import io
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from helpers.toy import cfg, write_toy_mvtec

from defectbook import DefectbookError
from defectbook.data.prepare import _prepare_cached
from defectbook.pipeline import run as experiment
from defectbook.pipeline.keys import key_of
from defectbook.pipeline.store import Record, Store

pytest.importorskip("distributed")
pytestmark = pytest.mark.xdist_group("dask")  # the module's one cluster (fixture env) on one worker


def grid(root):
    return [cfg(root, seed=s, params={"d": d, "batch_size": 8}, save_maps=2) for s in (0, 1) for d in (8, 16)]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Toy data, the serial records (one torch thread) and a 2-worker LocalCluster sharing the env."""
    import torch

    from defectbook.pipeline import executors

    tmp = tmp_path_factory.mktemp("dispatch")
    mp_env = pytest.MonkeyPatch()
    mp_env.setenv("DEFECTBOOK_CACHE", str(tmp / "cache"))
    mp_env.delenv(executors.ENV, raising=False)
    root = write_toy_mvtec(tmp / "data")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    serial = experiment.run_many(grid(root), Store(tmp / "serial"))
    torch.set_num_threads(n)
    cluster = executors.start_local(2, dashboard_address=":0", quiet=True)
    mp_env.setenv(executors.ENV, cluster.scheduler_address)
    yield {"tmp": tmp, "root": root, "serial": serial, "cluster": cluster, "client": executors.client()}
    mp_env.undo()
    cluster.close()


def valid_records(store: Store) -> dict:
    """Every JSON in the store parsed (a partial one would raise), with its maps readable."""
    out = {}
    for p in store.root.glob("*.json"):
        data = json.loads(p.read_text())
        rec = store.get(p.stem)
        assert rec is not None and rec.key == p.stem == data["key"]
        assert rec.maps()["maps"].shape[0] == 2
        out[p.stem] = rec
    return out


def test_without_a_scheduler_dask_is_not_imported(tmp_path):
    code = ("import os, sys; os.environ.pop('DEFECTBOOK_SCHEDULER', None)\n"
            "from defectbook.pipeline import run as experiment\n"
            "assert experiment.run_many([]) == []\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]\n"
            "assert not bad, bad\n")
    env = {k: v for k, v in os.environ.items() if k != "DEFECTBOOK_SCHEDULER"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


def test_workers_take_large_buffers_from_the_heap(env):
    """start_local gives its workers the malloc settings of defectbook.settings.HEAP_ENV (or the user's own)."""
    from defectbook import settings

    want = {k: os.environ.get(k, v) for k, v in settings.HEAP_ENV.items()}
    seen = env["client"].run(lambda: {k: os.environ.get(k) for k in settings.HEAP_ENV})
    assert seen and all(worker == want for worker in seen.values())


def test_cluster_gives_the_serial_records_and_resumes(env):
    store = Store(env["tmp"] / "dask")
    out = io.StringIO()
    from defectbook.pipeline import executors

    recs = executors.run_many(grid(env["root"]), store, desc="grid", stream=out)
    assert [r.key for r in recs] == [r.key for r in env["serial"]]
    for a, b in zip(recs, env["serial"]):
        assert a.metrics == b.metrics and a.scores == b.scores
    assert "4 computed, 0 failed" in out.getvalue() and "dashboard" in out.getvalue()
    assert sorted(valid_records(store)) == sorted(r.key for r in recs)
    # a killed batch: two records lost; rerunning computes those two only
    for r in recs[1:3]:
        store.path(r.key).unlink()
    kept = {r.key: store.path(r.key).stat().st_mtime_ns for r in (recs[0], recs[3])}
    again = experiment.run_many(grid(env["root"]), store)  # the hook: DEFECTBOOK_SCHEDULER is set
    assert [r.metrics for r in again] == [r.metrics for r in env["serial"]]
    assert {k: store.path(k).stat().st_mtime_ns for k in kept} == kept


def test_a_failed_task_is_reported_and_the_rest_finish(env):
    from defectbook.pipeline import executors

    store = Store(env["tmp"] / "failing")
    good = cfg(env["root"], seed=5, params={"d": 8, "batch_size": 8}, save_maps=2)
    bad = cfg(env["root"], params={"d": -1, "batch_size": 8})    # fails inside its task (parameter check)
    out = io.StringIO()
    with pytest.raises(DefectbookError, match=key_of(bad)):
        executors.run_many([bad, good], store, desc="mixed", stream=out)
    assert f"task {key_of(bad)} failed" in out.getvalue()
    assert "1 computed, 1 failed" in out.getvalue()
    assert list(valid_records(store)) == [key_of(good)]


def test_run_hands_a_missing_record_to_the_cluster(env):
    store = Store(env["tmp"] / "single")
    c = cfg(env["root"], seed=7, params={"d": 8, "batch_size": 8}, save_maps=2)
    misses = _prepare_cached.cache_info().misses
    rec = experiment.run(c, store)
    assert _prepare_cached.cache_info().misses == misses  # no data loaded here: a worker did it
    assert list(valid_records(store)) == [rec.key] == [key_of(c)]


def test_a_killed_worker_gets_its_task_retried(env):
    from defectbook.pipeline import executors

    client, store = env["client"], Store(env["tmp"] / "killed")
    killed = {}

    def kill_first_busy_worker():
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            busy = {w: ts for w, ts in client.processing().items() if ts}
            if busy:
                addr, keys = next(iter(busy.items()))
                time.sleep(0.3)  # inside the task (data loaded, fitting)
                pid = client.run(os.getpid, workers=[addr])[addr]
                os.kill(pid, signal.SIGKILL)
                killed.update(pid=pid, keys=keys)
            time.sleep(0.02)

    t = threading.Thread(target=kill_first_busy_worker)
    t.start()
    recs = executors.run_many(grid(env["root"]), store, stream=io.StringIO())
    t.join()
    assert killed, "no worker was busy"
    assert [r.metrics for r in recs] == [r.metrics for r in env["serial"]]
    assert sorted(valid_records(store)) == sorted(r.key for r in recs)
    assert any(k.removeprefix(executors.KEY_PREFIX) in {r.key for r in recs} for k in killed["keys"])
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it


def test_a_result_lost_after_it_finished_is_waited_for(env, monkeypatch):
    """The race the random kill above can hit: a task finishes, then the worker holding its result
    dies before the client takes it (the status goes back to pending, Dask recomputes it). The
    client waits for the recomputed result; it does not report a failure. Made deterministic by
    killing the holder between as_completed and run_many's hand-over."""
    import distributed

    from defectbook.pipeline import executors

    client, store = env["client"], Store(env["tmp"] / "lost")
    real = distributed.as_completed
    killed, lost = [], []
    # The scheduler tells the client "lost-data" when the only holder of a result dies. The future's
    # status can go lost -> finished again faster than a poll sees it (the recomputation reads the
    # record the first run stored), so the message itself is what proves the loss.
    report_lost = client._stream_handlers["lost-data"]

    def recording_lost(key=None, **kw):
        lost.append(key)
        return report_lost(key=key, **kw)

    monkeypatch.setitem(client._stream_handlers, "lost-data", recording_lost)

    def as_completed_killing_the_first_holder(futures, **kw):
        for fut in real(futures, **kw):
            if not killed and fut.status == "finished":
                addr = next(iter(client.who_has(fut)[fut.key]))
                os.kill(client.run(os.getpid, workers=[addr])[addr], signal.SIGKILL)
                killed.append(fut.key)
                deadline = time.time() + 60
                while fut.key not in lost and time.time() < deadline:
                    time.sleep(0.02)
            yield fut

    monkeypatch.setattr(distributed, "as_completed", as_completed_killing_the_first_holder)
    out = io.StringIO()
    recs = executors.run_many(grid(env["root"])[:2], store, stream=out)
    assert killed and killed[0] in lost, (killed, lost)  # the result really was lost before the hand-over
    assert [r.metrics for r in recs] == [r.metrics for r in env["serial"][:2]]
    assert "failed" not in out.getvalue().replace("0 failed", "")
    client.wait_for_workers(2, timeout=60)


def test_notebooks_at_once_share_the_cluster(env):
    """Two 'notebooks' (processes running overlapping grids, as papermill kernels do) at once on one
    cluster: both finish, and the store holds one valid record per distinct config."""
    from defectbook.book.execute import Outcome
    from defectbook.pipeline import executors

    root, store = env["root"], env["tmp"] / "notebooks"
    extra = cfg(root, seed=9, params={"d": 8, "batch_size": 8}, save_maps=2)
    grids = {"nb/a": grid(root), "nb/b": grid(root)[2:] + [extra]}
    code = ("import json, sys\nfrom defectbook.pipeline import run as experiment\n"
            "from defectbook.pipeline.store import Store\n"
            "experiment.run_many(json.loads(sys.argv[1]), Store(sys.argv[2]))\n")

    def run_one(name):
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-c", code, json.dumps(grids[name]), str(store)], capture_output=True,
                           text=True, timeout=300)
        return Outcome(name, "ok" if p.returncode == 0 else "FAILED", time.perf_counter() - t0, p.stderr[-500:])

    out = io.StringIO()
    outcomes = executors.notebooks_on_cluster(list(grids), run_one, scheduler=env["cluster"].scheduler_address,
                                              stream=out)
    assert [(o.notebook, o.status) for o in outcomes] == [("nb/a", "ok"), ("nb/b", "ok")], outcomes
    distinct = {key_of(c) for g in grids.values() for c in g}
    assert sorted(valid_records(Store(store))) == sorted(distinct)
    assert "dashboard" in out.getvalue() and "0 failed" in out.getvalue()


def test_gpu_workers_are_pinned_one_device_each():
    """Without dask-cuda, a multi-GPU server gets one worker per GPU id, each seeing only its own
    (checked here on CPU workers: the pinning is an environment variable of each worker process)."""
    from defectbook.pipeline import executors

    cluster = executors.pinned_cluster(["0", "1"], {"OMP_NUM_THREADS": "1"}, dashboard_address=":0", quiet=True)
    try:
        c = executors.client(cluster.scheduler_address)
        c.wait_for_workers(2, timeout=60)
        seen = c.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))
        assert sorted(seen.values()) == ["0", "1"]
        assert set(c.nthreads().values()) == {1}
    finally:
        executors._clients.pop(cluster.scheduler_address).close()
        cluster.close()


# -- two processes writing the same keys ------------------------------------------------------

N_KEYS = 25


def _writer(i, root, barrier, queue):
    store = Store(root)
    won = {}
    for n in range(N_KEYS):
        key = f"{n:016x}"
        rec = Record(key=key, config={"writer": i}, metrics={"writer": i, "junk": "x" * 20000}, timings={},
                     memory={}, scores=[float(i)] * 500, labels=[i] * 500, defects=[])
        barrier.wait()
        won[key] = store.put(rec, {"writer": np.full(1000, i)}).metrics["writer"]
    queue.put(won)


def _reader(root, stop, queue):
    bad = seen = 0
    while not stop.is_set():
        for p in list(root.glob("*.json")):
            try:
                json.loads(p.read_text())
                seen += 1
            except json.JSONDecodeError:
                bad += 1
            except FileNotFoundError:
                pass
    queue.put((seen, bad))


def test_two_processes_writing_one_key_leave_one_valid_record(tmp_path):
    ctx = mp.get_context("fork")
    barrier, queue, stop = ctx.Barrier(2), ctx.Queue(), ctx.Event()
    writers = [ctx.Process(target=_writer, args=(i, tmp_path, barrier, queue)) for i in (0, 1)]
    reader = ctx.Process(target=_reader, args=(tmp_path, stop, queue))
    reader.start()
    for w in writers:
        w.start()
    won = [queue.get(timeout=60), queue.get(timeout=60)]
    for w in writers:
        w.join(timeout=30)
    stop.set()
    seen, bad = queue.get(timeout=30)
    reader.join(timeout=30)
    assert all(w.exitcode == 0 for w in writers)
    assert bad == 0 and seen > 0
    store = Store(tmp_path)
    assert len(store.keys()) == N_KEYS
    for key in store.keys():
        rec = store.get(key)
        writer = rec.metrics["writer"]
        assert rec.config == {"writer": writer} and rec.scores == [float(writer)] * 500
        assert (rec.maps()["writer"] == writer).all()  # maps and JSON of the same writer
        assert won[0][key] == won[1][key] == writer  # the loser got the winner's record back
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_a_task_another_notebook_submitted_first_is_not_counted_as_computed_here(env):
    """Two notebooks on one cluster asking for the same config share one task (keyed by the record key):
    only the one whose task computed it counts it as computed, so the build report counts it once."""
    from defectbook.pipeline import executors
    from defectbook.pipeline.context import KEY_PREFIX

    store = Store(env["tmp"] / "shared-task")
    first, second = [cfg(env["root"], seed=s, params={"d": 12, "batch_size": 8}) for s in (5, 6)]
    other = env["client"].submit(executors._task, first, str(store.root.resolve()), "another/notebook@1",
                                 key=KEY_PREFIX + key_of(first), pure=False)   # the other notebook asked first
    mine: set = set()
    recs = executors.run_many([first, second], store, stream=io.StringIO(), computed=mine)
    assert other.result()[1] == "another/notebook@1" and other.result()[0].key == recs[0].key
    assert mine == {key_of(second)}       # its own task computed the second; the first was the other's
    assert recs[0].metrics == store.get(key_of(first)).metrics


def test_prefetched_runs_are_queued_at_once_and_taken_over_by_run_many(env):
    """A page queues all its runs first (prefetch), then asks for them batch by batch: each batch takes over
    the queued futures (nothing is submitted twice) and counts them as computed by this process, also when a
    run finished before its batch asked for it."""
    from defectbook.pipeline import executors
    from defectbook.pipeline import run as runner

    store = Store(env["tmp"] / "prefetch")
    a, b = [cfg(env["root"], seed=s, params={"d": 10, "batch_size": 8}) for s in (7, 8)]
    runner.prefetch([a, b], store)        # the hook: DEFECTBOOK_SCHEDULER is set
    assert set(executors._prefetched) >= {key_of(a), key_of(b)}
    executors._prefetched[key_of(b)].result()             # b finishes before anyone asks for it
    mine: set = set()
    recs = executors.run_many([a, b], store, stream=io.StringIO(), computed=mine)
    assert mine == {key_of(a), key_of(b)} and not {key_of(a), key_of(b)} & set(executors._prefetched)
    assert [r.key for r in recs] == [key_of(a), key_of(b)]
    runner.prefetch([a], store)            # in the store now: nothing is queued
    assert key_of(a) not in executors._prefetched
