"""Work spread over several worker processes: one per device on this machine (:mod:`scale.local`)
or Ray actors on a cluster (:mod:`scale.ray_pool`).

A worker holds what its factory builds (a model, built once per key on the worker's device) and
runs calls ``function(context, *arguments)`` sent to it; :func:`open_pool` gives the pool that
``--devices`` / ``--ray`` ask for (:mod:`scale.workers`). Nothing here knows models or videos: the
layers above pass picklable factories and functions.
"""
from scale.context import WorkerContext
from scale.pool import Done, Pool, open_pool
from scale.workers import Workers, add_worker_arguments, workers_from

__all__ = ["WorkerContext", "Done", "Pool", "open_pool", "Workers", "add_worker_arguments", "workers_from"]
