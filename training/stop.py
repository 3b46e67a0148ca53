"""Stopping a run cleanly on SIGTERM (what Slurm and other schedulers send) or Ctrl-C.

A signal only sets a request; the training loop reads it between optimiser steps (all ranks
agree on it in the step's all-reduce) and the evaluation between batches, saves ``latest``
atomically and ends with :class:`TrainingStopped`. Interrupting mid-step instead could save
weights that an optimiser step had half updated, and would leave the other ranks waiting in a
collective. A second signal stops at once (KeyboardInterrupt), for a user who cannot wait.
"""
from __future__ import annotations

import os
import signal
import threading
from typing import Any, Dict, Optional

__all__ = ["StopRequest", "TrainingStopped", "ignore_stop_signals"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingStopped(Exception):
    """The run stopped on a signal after saving ``latest``; ``exit_code`` is 128 + the signal number."""

    def __init__(self, message: str, signal_number: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signal_number


class StopRequest:
    """Within ``with StopRequest() as stop:``, SIGTERM and SIGINT set ``stop.signal`` instead of killing."""

    def __init__(self) -> None:
        self.signal: Optional[signal.Signals] = None
        self._previous: Dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def _handle(self, number: int, frame: Any) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signal.Signals(number)
        os.write(2, f"\n{self.signal.name}: stopping after this step (or evaluation batch) and saving the latest checkpoint "
                    "(send it again to stop at once)\n".encode())

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            for number in _SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()


def ignore_stop_signals(worker_id: int = 0) -> None:
    """DataLoader ``worker_init_fn``: workers leave Ctrl-C and a scheduler's SIGTERM to the training
    process, and end on their parent's SIGTERM.

    A scheduler signals every process of the job; a worker killed by it would make the main
    process fail on its next batch instead of stopping cleanly. But the training process ends its
    workers with SIGTERM itself when it exits before they are done (after an error in the data or a
    full disk: Python's multiprocessing terminates them, then waits for them), so a worker deaf
    to every SIGTERM would keep that process waiting for ever. Where the system names a signal's
    sender (``sigwaitinfo``), SIGTERM is held for one thread that ends the worker when the parent
    sent it and drops it otherwise; elsewhere (macOS, Windows) SIGTERM is ignored.
    """
    for number in _SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    if hasattr(signal, "sigwaitinfo"):
        # Blocked, the ignored signal is kept pending (not dropped) until the thread takes it;
        # threads the worker starts later inherit the block.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        threading.Thread(target=_end_on_sigterm_from, args=(os.getppid(),), name="sigterm-from-parent", daemon=True).start()


def _end_on_sigterm_from(parent: int) -> None:
    while True:
        if signal.sigwaitinfo({signal.SIGTERM}).si_pid == parent:
            os._exit(0)  # 0: the parent asked; torch's watch over its workers counts any other status as a crash
