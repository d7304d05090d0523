"""A scheduler plugin counting defectbook's experiment tasks (for ``defectbook reproduce``'s bar).

Imported only when a Dask scheduler is in use (it imports ``distributed``); the scheduler process
must be able to import defectbook (true of a local cluster and of a cluster running its workers).
"""
from __future__ import annotations

from distributed.diagnostics.plugin import SchedulerPlugin

from .context import KEY_PREFIX

NAME = "defectbook-progress"


class TaskCounter(SchedulerPlugin):
    """Keys of experiment tasks seen, finished (in memory) and failed (erred) on the scheduler."""

    name = NAME

    def __init__(self):
        self.seen, self.done, self.failed = set(), set(), set()
        self.runs = 0  # processing -> memory transitions: task executions that finished


    def transition(self, key, start, finish, *args, **kwargs):
        if not (isinstance(key, str) and key.startswith(KEY_PREFIX)):
            return
        self.seen.add(key)
        if finish == "memory":
            self.runs += start == "processing"
            self.done.add(key)
            self.failed.discard(key)
        elif finish == "erred":
            self.failed.add(key)


def counts(dask_scheduler=None) -> dict:
    """``{"tasks", "done", "failed"}`` of the registered counter (run with ``client.run_on_scheduler``)."""
    plugin = dask_scheduler.plugins.get(NAME)
    if plugin is None:
        return {"tasks": 0, "done": 0, "failed": 0, "runs": 0}
    return {"tasks": len(plugin.seen), "done": len(plugin.done), "failed": len(plugin.failed), "runs": plugin.runs}
