"""Running a script's ``main`` so that bad input ends in one line on stderr, not a traceback."""
from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from typing import Callable, Optional

from utils.errors import InputError

__all__ = ["run_cli", "interrupt_on_sigterm", "Terminated", "whole_number_at_least", "positive_number"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, unwinding like Ctrl-C; :func:`run_cli` exits with 143 (128 + SIGTERM) instead of 130,
    the code a service manager or a shell expects of a terminated process (``train_*.py`` too)."""


def run_cli(main: Callable[[Optional[list]], None], argv: Optional[list] = None) -> None:
    """Call ``main(argv)`` and exit: 0 on success, 2 with ``<script>: error: <message>`` on bad input.

    An interrupt exits with 130 and a short note, SIGTERM (:func:`interrupt_on_sigterm`) with 143.
    Other exceptions are bugs and propagate with their traceback.
    """
    prog = os.path.basename(sys.argv[0]) or "ifrnet"
    try:
        main(argv)
    except InputError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        sys.exit(2)
    except Terminated:
        print(f"{prog}: terminated", file=sys.stderr)
        sys.exit(128 + signal.SIGTERM)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)


def interrupt_on_sigterm() -> None:
    """Make SIGTERM (what ``kill``, systemd and container stops send) unwind like Ctrl-C, as
    :class:`Terminated` (a KeyboardInterrupt), so that ``with`` blocks and ``finally`` clauses remove
    temporary files and :func:`run_cli` ends with its one line. A no-op outside the main thread,
    where Python cannot set signal handlers."""
    def handler(signum, frame):
        raise Terminated
    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. called from a test runner thread)
        pass


def whole_number_at_least(minimum: int, at_most: Optional[int] = None) -> Callable[[str], int]:
    """An argparse ``type`` for a flag that takes a whole number of at least ``minimum`` (and at most
    ``at_most``): anything else (``2.5``, ``x``, ``0``) is argparse's one-line error naming the flag
    and the value."""
    wanted = f"from {minimum} to {at_most}" if at_most is not None else f"of at least {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (at_most is not None and value > at_most):
            raise argparse.ArgumentTypeError(f"must be a whole number {wanted}, got {text!r}")
        return value

    parse.__name__ = f"whole number {wanted}"
    return parse


def positive_number(text: str) -> float:
    """An argparse ``type`` for a positive finite number: ``0``, ``-1``, ``inf`` and ``nan`` (which
    passes every ``>`` check as false, turning a limit off) are argparse's one-line error."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value
