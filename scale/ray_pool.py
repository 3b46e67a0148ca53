"""Workers as Ray actors: each holds its models (built once per key on its device) and runs the
calls sent to it; Ray places them (``num_gpus=1`` per CUDA worker, ``--cpus_per_worker`` CPUs
each), restarts an actor whose process died and runs the call it held again
(``max_restarts``/``max_task_retries``), and carries arguments and results through its object
store, so the workers need no disk shared with the driver.

Ray is optional (requirements-cluster.txt). With no address the pool starts Ray on this machine,
bound to 127.0.0.1 and without its dashboard, and stops it at the end; a Ray this process already
runs (``ray.init`` by the caller) is used as it is.
"""
from __future__ import annotations

import logging
import os
import socket
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from scale.context import Factory, WorkerContext
from scale.pool import Call, Done, log_setup
from scale.workers import Workers
from utils.errors import InputError

__all__ = ["MAX_RETRIES", "import_ray", "RayPool"]

log = logging.getLogger("ifrnet.scale")

MAX_RETRIES = 3  # restarts of a worker whose process died, each running its call again


def import_ray() -> Any:
    """The ``ray`` module, or the one-line error naming what to install."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray, which is not installed: pip install -r requirements-cluster.txt") from None
    return ray


class RayWorker:
    """The actor: one model per key on its device, and the calls run with it."""

    def __init__(self, device: str, threads: int, factory: Factory, index: int,
                 logging_setup: Tuple[int, Optional[str]]) -> None:
        import ray
        import torch

        torch.set_num_threads(threads)
        level, line_format = logging_setup
        logging.basicConfig(level=level, format=line_format or logging.BASIC_FORMAT)
        node = ray.get_runtime_context().get_node_id()
        self.where = f"worker {index} ({device}, node {node[:8]} on {socket.gethostname()} pid {os.getpid()})"
        self.context = WorkerContext(device, factory, self.where)

    def run(self, function: Any, arguments: tuple) -> Tuple[Any, str]:
        return function(self.context, *arguments), self.where

    def pid(self) -> int:
        return os.getpid()


class RayPool:
    """One Ray actor per worker of ``workers`` (see :class:`~scale.workers.Workers`)."""

    def __init__(self, workers: Workers, factory: Factory) -> None:
        ray = self._ray = import_ray()
        self._started = False
        if not ray.is_initialized():
            if workers.ray_address:
                ray.init(address=workers.ray_address, logging_level=logging.WARNING)
            else:  # this machine only: loopback, no dashboard
                ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1",
                         logging_level=logging.WARNING)
            self._started = True
        self.shared_disk = workers.shared_disk if workers.shared_disk is not None else (
            True if self._started and not workers.ray_address else None)
        devices = workers.devices or self._cluster_devices(workers.cpus_per_worker)
        actor = ray.remote(RayWorker)
        self._actors = []
        for index, device in enumerate(devices):
            cuda = device.startswith("cuda")
            options = dict(num_cpus=workers.cpus_per_worker, num_gpus=1 if cuda else 0,
                           max_restarts=MAX_RETRIES, max_task_retries=MAX_RETRIES,
                           scheduling_strategy="SPREAD")  # over the nodes, as many as there are
            # On Ray a CUDA worker uses the GPU Ray gives it (the one its CUDA_VISIBLE_DEVICES shows).
            self._actors.append(actor.options(**options).remote("cuda" if cuda else "cpu", workers.cpus_per_worker,
                                                                factory, index, log_setup()))
        self.size = len(self._actors)
        log.info("%d Ray workers: %s", self.size, ", ".join(devices))

    def _cluster_devices(self, cpus_per_worker: int) -> List[str]:
        resources = self._ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        return ["cuda"] * gpus if gpus else ["cpu"] * max(1, int(resources.get("CPU", 1)) // cpus_per_worker)

    @property
    def pids(self) -> List[int]:
        return self._ray.get([actor.pid.remote() for actor in self._actors])

    def run(self, calls: Sequence[Call]) -> Iterator[Done]:
        ray = self._ray
        pending = list(range(len(calls)))[::-1]
        idle = list(self._actors)
        running: Dict[Any, Tuple[int, Any]] = {}
        try:
            while pending or running:
                while idle and pending:
                    number, actor = pending.pop(), idle.pop(0)
                    function, arguments = calls[number]
                    running[actor.run.remote(function, arguments)] = (number, actor)
                finished, _ = ray.wait(list(running), num_returns=1)
                number, actor = running.pop(finished[0])
                idle.append(actor)
                result, where = ray.get(finished[0])
                yield Done(number, result, where)
        finally:
            for reference in running:  # abandoned calls (an error, an interrupt)
                ray.cancel(reference)

    def close(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []
        if self._started:
            self._ray.shutdown()

    def __enter__(self) -> "RayPool":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
