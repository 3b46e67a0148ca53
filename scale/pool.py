"""The pool's interface and the one way to open the pool that :class:`~scale.workers.Workers` asks for."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Protocol, Sequence, Tuple

import torch

from scale.context import Factory
from scale.workers import Workers

__all__ = ["Call", "Done", "Pool", "open_pool", "log_setup"]

Call = Tuple[Callable[..., Any], tuple]  # (function, arguments): runs as function(context, *arguments)


@dataclass
class Done:
    """A finished call: its position in the calls given to :meth:`Pool.run`, its result, and which
    worker ran it (a name with the machine or Ray node and the process id)."""

    index: int
    result: Any
    worker: str


class Pool(Protocol):
    size: int  # workers
    shared_disk: Optional[bool]  # whether the workers see this machine's files (None: each checks)

    def run(self, calls: Sequence[Call]) -> Iterator[Done]:
        """Run every call on some worker and yield each as it finishes (in any order). A worker
        that dies mid-call is replaced and the call runs again; an exception of a call is raised
        here, and the calls still running are abandoned."""

    def close(self) -> None: ...


def call_one(pool: Pool, function: Callable[..., Any], *arguments: Any) -> Any:
    """Run one call on some worker and return its result."""
    return next(iter(pool.run([(function, arguments)]))).result


def log_setup() -> Tuple[int, Optional[str]]:
    """The driver's log level and line format, for the workers' own log lines."""
    root = logging.getLogger()
    formats = [handler.formatter._fmt for handler in root.handlers if handler.formatter is not None]
    return root.level, (formats[0] if formats else None)


def open_pool(workers: Workers, factory: Factory) -> Pool:
    """The pool for ``workers``: local processes, or Ray actors with ``workers.ray``. Close it
    (or use it in a ``with`` block) to stop the workers."""
    if workers.ray:
        from scale.ray_pool import RayPool
        return RayPool(workers, factory)
    from scale.local import LocalPool
    threads = workers.threads or torch.get_num_threads()  # this machine's, shared out among its workers
    return LocalPool(workers.devices, factory, threads_each=max(1, threads // len(workers.devices)))
