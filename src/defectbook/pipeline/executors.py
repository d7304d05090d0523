"""Experiment-level dispatch on Dask distributed: every GPU of a server, or a cluster, one store.

:func:`defectbook.pipeline.run.run_many` hands its configs here when a scheduler is configured
(``DEFECTBOOK_SCHEDULER``, set by ``defectbook reproduce --scheduler ADDRESS`` or by
``--workers N``, which starts a local cluster). The configs whose records are missing become Dask
tasks keyed by the record key, so a config submitted twice (two notebooks running at once, two
clients) is one task and one computation; the records are gathered in the configs' order. Without
a scheduler nothing here runs and Dask is never imported (this module imports only the standard
library and the pipeline at the top). Importing this module (``import defectbook.pipeline``
does) installs :func:`run_many` as the runner's cluster executor (:data:`defectbook.pipeline.context.cluster`);
the runner never imports this module.

Workers write into the client's store, which must therefore be on a file system they all see
(one machine, or a shared mount at the same path): :class:`defectbook.pipeline.store.Store` publishes
records atomically and once per key. A worker that dies mid-task (killed, out of memory) has its
task rescheduled by Dask on another worker (``distributed.scheduler.allowed-failures``); a killed
batch resumes where it stopped, since finished records are reused.

GPUs: :func:`start_local` starts one single-threaded worker per visible GPU (dask-cuda's
``LocalCUDACluster`` when installed, else workers pinned by ``CUDA_VISIBLE_DEVICES``), so a task's
device (``device: auto`` or ``cuda`` in the config) is its worker's GPU.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import time

from .. import DefectbookError, settings
from . import context
from .context import KEY_PREFIX
from .keys import key_of
from .ledger import NOTEBOOK_ENV
from .run import run
from .store import Store

ENV = "DEFECTBOOK_SCHEDULER"
THREADS_ENV = "DEFECTBOOK_TASK_THREADS"  # torch threads per task (default: the worker's OMP_NUM_THREADS)
_clients: dict = {}


def scheduler_address() -> str | None:
    """The configured scheduler address (``DEFECTBOOK_SCHEDULER``), or None: run serially."""
    return settings.scheduler()


def visible_gpus() -> list[str]:
    """The CUDA devices this process may use (``CUDA_VISIBLE_DEVICES`` ids, else ``0..n-1``)."""
    import torch

    if not torch.cuda.is_available():
        return []
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env:
        return [d.strip() for d in env.split(",") if d.strip()][: torch.cuda.device_count()]
    return [str(i) for i in range(torch.cuda.device_count())]


def start_local(n_workers: int | str | None = None, dashboard_address: str = ":8787", quiet: bool = False):
    """A local Dask cluster: one worker process per GPU when there are GPUs, else ``n_workers``
    CPU workers. Every worker runs one task at a time with ``cpu_count // workers`` torch threads.

    ``n_workers``: an int, or ``None``/``"auto"`` (one per GPU, else one per core). Returns the
    cluster (use ``cluster.scheduler_address``; ``cluster.close()`` ends it).
    """
    try:
        from distributed import LocalCluster
    except ImportError as e:
        raise DefectbookError("a Dask cluster needs dask and distributed: pip install 'defectbook[cluster]'") from e

    gpus = visible_gpus()
    if n_workers in (None, "auto", 0, "0"):
        n = len(gpus) or (os.cpu_count() or 1)
    else:
        try:
            n = int(n_workers)
        except ValueError:
            n = 0
        if n < 1:
            raise DefectbookError(f"--workers must be a number >= 1 or 'auto', got {n_workers!r}")
    if gpus:
        n = min(n, len(gpus))  # one worker per GPU at most
    _keep_heap_settings()
    threads = max(1, (os.cpu_count() or 1) // n)
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "DEFECTBOOK_PROGRESS": "0",
           THREADS_ENV: str(threads), **settings.heap_env()}
    os.environ[THREADS_ENV] = str(threads)  # worker processes inherit it (also those dask-cuda starts)
    silence = {"silence_logs": 40} if quiet else {}  # logging.ERROR
    if gpus:
        gpus = gpus[:n]
        try:
            from dask_cuda import LocalCUDACluster
        except ImportError:
            LocalCUDACluster = None
        if LocalCUDACluster is not None:
            return LocalCUDACluster(CUDA_VISIBLE_DEVICES=",".join(gpus), threads_per_worker=1,
                                    dashboard_address=dashboard_address, **silence)
        return pinned_cluster(gpus, env, dashboard_address, quiet)
    return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=dashboard_address,
                        env=env, **silence)


def _keep_heap_settings() -> None:
    """Drop ``MALLOC_TRIM_THRESHOLD_`` from the environment Dask's nannies give their workers.

    Dask sets it (65536, just before a worker starts) so that workers hand freed memory back to the OS; it
    would replace the value of :data:`defectbook.settings.HEAP_ENV` (or the user's) that the workers inherit,
    and every large torch/numpy buffer would be page-faulted in afresh (``benchmarks/bench_heap.py``).
    """
    import dask
    import distributed  # noqa: F401 - registers the distributed.* config

    key = "distributed.nanny.pre-spawn-environ"
    env = dict(dask.config.get(key))
    if env.pop("MALLOC_TRIM_THRESHOLD_", None) is not None:
        dask.config.set({key: env})


def pinned_cluster(gpus: list[str], env: dict | None = None, dashboard_address: str = ":8787", quiet: bool = False):
    """One single-threaded worker process per GPU id in ``gpus``, each seeing only its GPU
    (``CUDA_VISIBLE_DEVICES=<id>``): the multi-GPU cluster when dask-cuda is not installed."""
    from distributed import Nanny, Scheduler, SpecCluster

    _keep_heap_settings()
    workers = {f"gpu-{g}": {"cls": Nanny, "options": {"nthreads": 1, "env": {**(env or {}), "CUDA_VISIBLE_DEVICES": g}}}
               for g in gpus}
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": dashboard_address}}
    return SpecCluster(workers=workers, scheduler=scheduler, silence_logs=40 if quiet else False)


CONNECT_TIMEOUT_ENV = "DEFECTBOOK_CONNECT_TIMEOUT"
#: seconds to wait for a scheduler to answer (``DEFECTBOOK_CONNECT_TIMEOUT`` overrides it): long enough
#: for a scheduler across a network, short enough that a wrong address is reported, not waited on
CONNECT_TIMEOUT = 10.0


def connect_timeout() -> float:
    """Seconds :func:`client` waits for a scheduler: ``DEFECTBOOK_CONNECT_TIMEOUT``, else :data:`CONNECT_TIMEOUT`."""
    text = settings.get(CONNECT_TIMEOUT_ENV)
    if not text:
        return CONNECT_TIMEOUT
    try:
        t = float(text)
    except ValueError:
        t = -1.0
    if not t > 0:
        raise DefectbookError(f"{CONNECT_TIMEOUT_ENV} must be a number of seconds > 0, got {text!r}")
    return t


def client(address: str | None = None, timeout: float | None = None):
    """A (cached, per process) Dask client of ``address`` (default: the configured scheduler).

    A scheduler that does not answer within ``timeout`` seconds (default :func:`connect_timeout`) is a
    :class:`DefectbookError` naming the address and how to fix it, not a long wait and a traceback.
    """
    try:
        from distributed import Client
    except ImportError as e:
        raise DefectbookError(f"{ENV} is set but Dask is missing: pip install 'defectbook[cluster]'") from e

    address = address or scheduler_address()
    if not address:
        raise DefectbookError(f"no Dask scheduler configured: set {ENV} or pass --scheduler / --workers")
    c = _clients.get(address)
    if c is None or c.status in ("closed", "closing"):
        timeout = connect_timeout() if timeout is None else timeout
        try:
            _probe(address, timeout)
            c = Client(address, set_as_default=False, timeout=timeout)
        except ValueError as e:
            raise DefectbookError(f"the Dask scheduler address {address!r} is not valid ({e}): write it as "
                                  f"tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786") from None
        except (OSError, TimeoutError) as e:
            raise DefectbookError(
                f"cannot connect to the Dask scheduler at {address} within {timeout:g} s ({type(e).__name__}: {e}): "
                f"check the address and that `dask scheduler` runs there and is reachable, set "
                f"{CONNECT_TIMEOUT_ENV} to wait longer, or leave out --scheduler (and unset {ENV}) to run without "
                f"a cluster") from None
        _clients[address] = c
    return c


def _probe(address: str, timeout: float) -> None:
    """Open and close a TCP connection to a ``tcp://``/``tls://`` scheduler address: a closed port or an
    unknown host fails at once (``OSError``), before Dask retries it for the whole timeout; a malformed
    address is a ``ValueError``. Other schemes are left to Dask."""
    import socket

    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port
    from distributed.comm.registry import get_backend

    scheme, location = parse_address(address)
    get_backend(scheme)  # ValueError for an unknown scheme
    if scheme not in ("tcp", "tls"):
        return
    host, port = parse_host_port(location, 8786)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    socket.create_connection((host, port), timeout=timeout).close()


def describe(c) -> str:
    """One line: scheduler, workers (threads, GPUs) and the dashboard address."""
    nthreads = c.nthreads()
    services = c.scheduler_info().get("services", {})
    link = getattr(c, "dashboard_link", None) if "dashboard" in services else None
    if link and importlib.util.find_spec("bokeh") is None:  # served, but its pages need bokeh
        link = None
    return (f"Dask scheduler {c.scheduler.address}: {len(nthreads)} workers, {sum(nthreads.values())} threads; "
            f"dashboard {link or 'not served (pip install bokeh)'}")


def _task(config: dict, root: str, requester: str | None = None):
    """Run on a worker: one experiment into the shared store, with ``DEFECTBOOK_TASK_THREADS`` (else
    ``OMP_NUM_THREADS``, which Dask sets to 1 per worker) torch threads. The device is the worker's:
    ``device: auto``/``cuda`` is ``cuda:0`` of the worker's ``CUDA_VISIBLE_DEVICES``, its own GPU.
    Returns ``(record, requester)``: a task is keyed by its record key, so a client that submits a key
    already submitted gets the first submission's result, and ``requester`` says whose task computed it."""
    import torch

    context.on_worker = True   # it computes, never re-dispatches
    torch.set_num_threads(max(1, int(settings.get(THREADS_ENV) or os.environ.get("OMP_NUM_THREADS") or 1)))
    return run(config, Store(root)), requester


def _label(config: dict) -> str:
    c = config
    s = c.get("split") or {}
    extra = {k: v for k, v in s.items() if k in ("kind", "ratio", "n")}
    return f"{c.get('method')} {c.get('dataset')}:{c.get('category') or ''} seed {c.get('seed', 0)} {extra}"


def run_many(configs: list[dict], store=None, desc: str = "experiments", address: str | None = None, stream=None,
             computed: set | None = None):
    """Records of ``configs`` (in order), the missing ones computed as Dask tasks.

    A failed task is reported (config key, config, error) without stopping the others; when all
    have finished, a summary is printed and :class:`DefectbookError` raised if any failed. ``computed``
    (a set) receives the keys that this process's own tasks computed: a key that another client (a
    notebook running at the same time) had submitted first is computed once, by that client's task.
    """
    from distributed import as_completed

    stream = stream or sys.stderr
    store = Store() if store is None else store  # (an empty Store is falsy: it has __len__)
    address = address or scheduler_address()
    keys = [key_of(c) for c in configs]
    records = {k: store.get(k) for k in dict.fromkeys(keys)}
    todo = {k: c for k, c in zip(keys, configs) if records[k] is None}
    for k in [k for k in records if k not in todo and k in _prefetched]:   # a queued run that has finished
        fut = _prefetched.pop(k)
        if computed is not None and fut.done() and fut.status == "finished" and fut.result()[1] == _requester():
            computed.add(k)
        fut.release()
    if todo:
        c = client(address)
        batch = settings.get("DEFECTBOOK_BATCH") == "1"
        if not batch and address not in _announced:
            print(describe(c), file=stream, flush=True)
            _announced.add(address)
        root = str(store.root.resolve())
        me = _requester()
        futures = {_prefetched.pop(k, None) or _submit(c, k, cfg, root, me): k for k, cfg in todo.items()}
        bar = _bar(desc, len(todo), stream)
        failed: dict[str, str] = {}
        t0 = time.perf_counter()
        for fut in as_completed(list(futures), loop=c.loop):
            k = futures[fut]
            # result(), not a look at fut.status: a worker killed after the task finished loses the
            # result it held, the status goes back to pending and Dask recomputes the task; result()
            # waits for that (the record is published once either way).
            try:
                records[k], requester = fut.result()
                if computed is not None and requester == me:
                    computed.add(k)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # noqa: BLE001 - the task's error, or cancelled (scheduler lost)
                failed[k] = f"{type(exc).__name__}: {exc}"
                print(f"task {k} failed ({_label(todo[k])}): {failed[k]}", file=stream, flush=True)
            if bar is not None:
                bar.set_postfix(failed=len(failed), refresh=False)
                bar.update(1)
            fut.release()
        if bar is not None:
            bar.close()
        if not batch or failed:
            print(f"{desc}: {len(todo) - len(failed)} computed, {len(failed)} failed, "
                  f"{len(records) - len(todo)} reused, {time.perf_counter() - t0:.1f} s", file=stream, flush=True)
        if failed:
            raise DefectbookError(f"{len(failed)} of {len(todo)} experiments failed: "
                                  + "; ".join(f"{k}: {e}" for k, e in failed.items()))
    return [records[k] for k in keys]


_announced: set = set()

#: futures of the experiments :func:`prefetch` queued, by record key, until a :func:`run_many` waits for them
_prefetched: dict = {}


def _requester() -> str:
    """Who submits a task: this kernel's notebook and process (see :func:`_task`)."""
    return f"{settings.get(NOTEBOOK_ENV) or ''}@{os.getpid()}"


def prefetch(configs: list[dict], store=None, address: str | None = None) -> None:
    """Queue the experiments of ``configs`` whose records are not in the store, without waiting: a page that
    will ask for several batches one after another (:func:`run_many` each) submits them all at once, so the
    cluster works through the page's runs ahead of those another notebook submits later (Dask runs tasks
    in the order they were submitted). The :func:`run_many` that asks for a key takes over its future."""
    store = Store() if store is None else store
    todo = {k: c for k, c in zip(map(key_of, configs), configs) if k not in _prefetched and store.get(k) is None}
    if not todo:
        return
    c = client(address or scheduler_address())
    root, me = str(store.root.resolve()), _requester()
    _prefetched.update({k: _submit(c, k, cfg, root, me) for k, cfg in todo.items()})


def _submit(c, key: str, config: dict, root: str, requester: str):
    """The Dask task of one experiment, keyed by its record key (a key already submitted, by this client or
    another, is the same task)."""
    return c.submit(_task, config, root, requester, key=KEY_PREFIX + key, pure=False)


def _bar(desc: str, total: int, stream):
    """A tqdm bar over finished tasks, only on a terminal (and unless DEFECTBOOK_PROGRESS=0)."""
    if (
        settings.get("DEFECTBOOK_PROGRESS", "1") in ("0", "false", "no")
        or not getattr(stream, "isatty", lambda: False)()
    ):
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=stream, leave=True)


def notebooks_on_cluster(nbs: list, run_one, workers=None, scheduler: str | None = None, stream=None) -> list:
    """Run ``run_one(nb)`` (one papermill execution, returning a ``reproduce.Outcome``) for every
    notebook, several at once, with every notebook's experiments on one Dask cluster.

    ``workers``: start a local cluster of that many workers (int or ``"auto"``); else connect to
    ``scheduler`` (default ``DEFECTBOOK_SCHEDULER``). The kernels find the scheduler through
    ``DEFECTBOOK_SCHEDULER``; as many notebooks run at once as the cluster has workers. Notebooks
    asking for the same config share one task (tasks are keyed by record key), so every record is
    computed once. Prints the dashboard address first and, on a terminal, a bar over the tasks.
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed

    stream = stream or sys.stdout
    cluster = start_local(workers, quiet=True) if workers else None
    address = cluster.scheduler_address if cluster is not None else (scheduler or scheduler_address())
    if not address:
        raise DefectbookError(f"no Dask scheduler: pass --workers N or --scheduler ADDRESS, or set {ENV}")
    old = settings.get(ENV)
    os.environ[ENV] = address
    try:
        c = client(address)
        print(describe(c), file=stream, flush=True)
        jobs = max(1, min(len(nbs), len(c.nthreads()) or 1))
        bar = _ClusterBar(c, stream)
        outcomes = {}
        with ThreadPoolExecutor(jobs) as pool:
            futures = {pool.submit(run_one, nb): nb for nb in nbs}
            for i, fut in enumerate(as_completed(futures), 1):
                o = fut.result()
                outcomes[futures[fut]] = o
                bar.write(f"[{i}/{len(nbs)}] {o.notebook}: {o.status} in {o.seconds:.1f} s"
                          + (f": {o.error}" if o.error else ""))
        n = bar.close()
        if n:
            print(f"experiment tasks on the cluster: {n['done']} done ({n['runs']} executions), {n['failed']} failed",
                  file=stream, flush=True)
        return [outcomes[nb] for nb in nbs]
    finally:
        if old is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = old
        if cluster is not None:
            _clients.pop(address, None)
            cluster.close()


class _ClusterBar:
    """A tqdm bar over the cluster's experiment tasks (done / failed), refreshed every second;
    only on a terminal. Task counts come from :class:`defectbook.pipeline.cluster_progress.TaskCounter`."""

    def __init__(self, c, stream):
        import threading

        self.c, self.stream, self.bar, self.last = c, stream, None, None
        try:
            from .cluster_progress import TaskCounter

            c.register_plugin(TaskCounter())
            self.ok = True
        except Exception as e:  # noqa: BLE001 - a remote scheduler without defectbook: no counts
            print(f"(no task counts: {type(e).__name__}: {e})", file=stream, flush=True)
            self.ok = False
        tty = getattr(stream, "isatty", lambda: False)() and settings.get("DEFECTBOOK_PROGRESS", "1") not in ("0", "no")
        if self.ok and tty:
            from tqdm import tqdm

            self.bar = tqdm(total=0, desc="experiment tasks", file=stream, leave=True)
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()

    def counts(self) -> dict | None:
        if not self.ok:
            return None
        from .cluster_progress import counts

        try:
            self.last = self.c.run_on_scheduler(counts)
        except Exception:  # noqa: BLE001 - scheduler gone: keep the last counts
            pass
        return self.last

    def _poll(self):
        while not self._stop.wait(1.0):
            self._refresh()

    def _refresh(self):
        n = self.counts()
        if n and self.bar is not None:
            self.bar.total = n["tasks"]
            self.bar.n = n["done"] + n["failed"]
            self.bar.set_postfix(failed=n["failed"], refresh=False)
            self.bar.refresh()

    def write(self, line: str):
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> dict | None:
        if self.bar is not None:
            self._stop.set()
            self._thread.join()
            self._refresh()
            self.bar.close()
        return self.counts()


context.cluster = run_many   # the runner's executor when a scheduler is configured
context.prefetch = prefetch
