"""Worker processes on this machine, one per device, started with ``spawn`` (a fresh interpreter:
no forked CUDA or thread state). The driver hands each idle worker one call at a time over its own
pipe, so it knows which call a worker holds: when a worker dies (killed, out of memory) its call
goes to a new worker on the same device, up to :data:`MAX_RETRIES` times."""
from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import socket
import sys
import traceback
from collections import deque
from multiprocessing.connection import Connection, wait
from typing import Any, Deque, Dict, Iterator, List, Optional, Sequence, Tuple

from scale.context import Factory, WorkerContext
from scale.pool import Call, Done, log_setup

__all__ = ["MAX_RETRIES", "LocalPool"]

log = logging.getLogger("ifrnet.scale")

MAX_RETRIES = 3  # runs of one call on new workers after the worker running it died


def _worker_main(connection: Connection, device: str, threads: int, factory: Factory, name: str,
                 logging_setup: Tuple[int, Optional[str]]) -> None:
    """A worker's loop: run each call it receives, send back its result or its exception."""
    import torch

    torch.set_num_threads(threads)
    level, line_format = logging_setup
    logging.basicConfig(level=level, format=line_format or logging.BASIC_FORMAT)
    context = WorkerContext(device, factory, name)
    while True:
        try:
            message = connection.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if message is None:
            _leave()
        number, function, arguments = message
        try:
            reply = (number, True, function(context, *arguments))
        except BaseException as error:  # sent to the driver, which raises it
            reply = (number, False, _portable(error))
        try:
            connection.send(reply)
        except (BrokenPipeError, EOFError):
            return


def _leave() -> None:
    """End the worker at the driver's stop: flush its log and output, then exit at once. Its results
    went back over the pipe and it holds nothing else, so the interpreter's own shutdown (over half a
    second of CPU with torch loaded, at every pool's close) would be time spent for nothing."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(0)


def _portable(error: BaseException) -> BaseException:
    """``error`` if it pickles (an InputError stays one), else a RuntimeError with its text and traceback."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        return RuntimeError(f"{type(error).__name__}: {error}\n{text}")


class _Worker:
    def __init__(self, pool: "LocalPool", device: str, index: int) -> None:
        self.device, self.index = device, index
        self.connection, child = pool._context.Pipe()
        self.process = pool._context.Process(
            target=_worker_main, name=f"ifrnet-worker-{index}", daemon=True,
            args=(child, device, pool.threads_each, pool._factory, f"worker {index} ({device})", log_setup()))
        self.process.start()
        child.close()
        self.name = f"worker {index} ({device}, {socket.gethostname()} pid {self.process.pid})"
        self.call: Optional[int] = None  # the call it runs

    def stop(self, kill: bool = False) -> None:
        self.ask_to_stop(kill)
        self.wait_stopped()

    def ask_to_stop(self, kill: bool = False) -> None:
        """Kill the process, or send it the stop message (a worker that is gone already is fine)."""
        if kill and self.process.is_alive():
            self.process.kill()
        else:
            try:
                self.connection.send(None)
            except (BrokenPipeError, OSError):
                pass

    def wait_stopped(self) -> None:
        """Give the process 10 s to exit after ask_to_stop, then kill it; close the pipe."""
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


class LocalPool:
    """One worker process per entry of ``devices``, each on ``threads_each`` CPU threads."""

    shared_disk = True

    def __init__(self, devices: Sequence[str], factory: Factory, *, threads_each: int = 1) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._factory = factory
        self.threads_each = threads_each
        self.size = len(devices)
        self.workers: List[_Worker] = [_Worker(self, device, index) for index, device in enumerate(devices)]
        log.info("%d worker processes: %s", self.size, ", ".join(devices))

    @property
    def pids(self) -> List[int]:
        return [worker.process.pid for worker in self.workers]

    def run(self, calls: Sequence[Call]) -> Iterator[Done]:
        pending: Deque[int] = deque(range(len(calls)))
        retries: Dict[int, int] = {}
        left = len(calls)
        try:
            while left:
                for worker in self.workers:
                    if worker.call is None and pending:
                        worker.call = pending.popleft()
                        function, arguments = calls[worker.call]
                        try:
                            worker.connection.send((worker.call, function, arguments))
                        except (BrokenPipeError, OSError):
                            pass  # it died: found below
                busy = [worker for worker in self.workers if worker.call is not None]
                ready = wait([worker.connection for worker in busy] + [worker.process.sentinel for worker in busy])
                for worker in busy:
                    reply = None
                    if worker.connection in ready:
                        try:
                            reply = worker.connection.recv()
                        except (EOFError, OSError):
                            reply = None
                    if reply is not None:
                        number, ok, result = reply
                        worker.call = None
                        if not ok:
                            raise result
                        left -= 1
                        yield Done(number, result, worker.name)
                    elif worker.connection in ready or worker.process.sentinel in ready:
                        worker.process.join(timeout=5)
                        if worker.process.is_alive():
                            continue
                        number = worker.call
                        retries[number] = retries.get(number, 0) + 1
                        log.warning("warning: %s stopped (exit code %s) during call %d; it runs again on a new worker",
                                    worker.name, worker.process.exitcode, number)
                        if retries[number] > MAX_RETRIES:
                            raise RuntimeError(f"call {number} was running each time a worker died, {retries[number]} "
                                               "times: giving up")
                        self._replace(worker)
                        pending.appendleft(number)
        finally:
            for worker in list(self.workers):  # abandoned calls (an error, an interrupt): their workers start over
                if worker.call is not None:
                    self._replace(worker)

    def _replace(self, worker: _Worker) -> None:
        worker.stop(kill=True)
        self.workers[self.workers.index(worker)] = _Worker(self, worker.device, worker.index)

    def close(self) -> None:
        """Stop every worker: all are asked first, so they wind down together rather than one after another."""
        for worker in self.workers:
            worker.ask_to_stop()
        for worker in self.workers:
            worker.wait_stopped()
        self.workers = []

    def __enter__(self) -> "LocalPool":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
