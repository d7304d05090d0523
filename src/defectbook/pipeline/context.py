"""Where the running experiments are: the one piece of state the executors set and the runner reads.

The runner (:mod:`defectbook.pipeline.run`) never imports the Dask code; :mod:`defectbook.pipeline.executors`
depends on the runner and, when imported, installs itself here as :data:`cluster`."""
from __future__ import annotations

from typing import Callable

#: prefix of the Dask task keys of experiments (``<prefix><record key>``)
KEY_PREFIX = "defectbook-run-"

#: True in a Dask worker process (set by the executor's task): it computes, never re-dispatches,
#: and leaves the ledger line to the process that asked for the record
on_worker = False

#: the cluster executor, ``(configs, store, desc, computed=None) -> records``: installed by
#: :mod:`defectbook.pipeline.executors`
cluster: Callable | None = None

#: queue experiments on the cluster without waiting, ``(configs, store) -> None``: installed with :data:`cluster`
prefetch: Callable | None = None
