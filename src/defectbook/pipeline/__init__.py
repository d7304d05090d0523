"""The experiment pipeline: configs (:mod:`.spec`, :mod:`.profiles`), record keys (:mod:`.keys`), the
record store (:mod:`.store`), the model store (:mod:`.models`), provenance, the runner (:mod:`.run`)
and its executors (serial in :mod:`.run`, Dask in :mod:`.executors`).

Importing the package installs the Dask executor (:mod:`.executors` imports Dask only when used), so
``run_many`` goes to a cluster whenever ``DEFECTBOOK_SCHEDULER`` is set; the runner never imports it."""
from . import executors  # noqa: F401 - installs the cluster executor (context.cluster)
