"""Running a script's ``main`` so that bad input ends in one line on stderr, not a traceback."""
from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import os
import signal
import sys
from typing import Any, Callable, Dict, Optional, Sequence, Type, TypeVar

from utils.errors import InputError

__all__ = ["run_cli", "interrupt_on_sigterm", "Terminated", "whole_number_at_least", "positive_number", "option",
           "add_option_arguments", "options_from"]

Options = TypeVar("Options")


class Terminated(KeyboardInterrupt):
    """SIGTERM, unwinding like Ctrl-C; :func:`run_cli` exits with 143 (128 + SIGTERM) instead of 130,
    the code a service manager or a shell expects of a terminated process (``train_*.py`` too)."""


def run_cli(main: Callable[[Optional[list]], None], argv: Optional[list] = None) -> None:
    """Call ``main(argv)`` and exit: 0 on success, 2 with ``<script>: error: <message>`` on bad input.

    An interrupt exits with 130 and a short note, SIGTERM (:func:`interrupt_on_sigterm`) with 143.
    A closed output pipe (the program reading standard output stopped: ``| head``) exits with 1
    and one line. Other exceptions are bugs and propagate with their traceback.
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
    except BrokenPipeError:
        # Whatever is still buffered for the closed pipe would fail again at exit, with a traceback.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # standard output is no file (captured by a test)
            pass
        print(f"{prog}: error: the output pipe was closed: the program reading it stopped before the end",
              file=sys.stderr)
        sys.exit(1)


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


def option(default: Any = dataclasses.MISSING, *, help: str, type: Optional[Callable[[str], Any]] = None,
           choices: Optional[Sequence[str]] = None, metavar: Optional[str] = None,
           exclusive_group: Optional[str] = None) -> Any:
    """A dataclass field that is also the command-line flag ``--<field name>``: its default, help and
    parsing live here once, and :func:`add_option_arguments` makes the flag from it.

    A field without a default is a required flag; a ``False`` default without ``type`` is a switch
    (``store_true``). ``type`` may raise :class:`~utils.errors.InputError` (the library's own
    parser, e.g. a frame rate): argparse then reports its message for the flag. Fields given the
    same ``exclusive_group`` exclude each other on the command line.
    """
    flag: Dict[str, Any] = {"help": help}
    for key, value in (("type", type), ("choices", choices), ("metavar", metavar), ("exclusive_group", exclusive_group)):
        if value is not None:
            flag[key] = value
    return dataclasses.field(default=default, metadata={"flag": flag})


def _flag_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` with an :class:`InputError` turned into argparse's error for the flag."""
    @functools.wraps(parse)
    def parse_flag(text: str) -> Any:
        try:
            return parse(text)
        except InputError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return parse_flag


def add_option_arguments(parser: argparse.ArgumentParser, options_class: type, *, leave_out: Sequence[str] = ()) -> None:
    """Add one flag to ``parser`` for each :func:`option` field of the dataclass ``options_class``,
    in field order; fields made with plain ``field`` are not flags, nor those named in ``leave_out``
    (a script that gives one of them another shape on its command line adds that flag itself)."""
    groups: Dict[str, Any] = {}
    for item in dataclasses.fields(options_class):
        if "flag" not in item.metadata or item.name in leave_out:
            continue
        settings = dict(item.metadata["flag"])
        group = settings.pop("exclusive_group", None)
        if group is not None and group not in groups:
            groups[group] = parser.add_mutually_exclusive_group()
        target = parser if group is None else groups[group]
        if item.default is dataclasses.MISSING:
            settings["required"] = True
        else:
            settings["default"] = item.default
        if item.default is False and "type" not in settings:
            settings["action"] = "store_true"
        elif "type" in settings:
            settings["type"] = _flag_type(settings["type"])
        target.add_argument(f"--{item.name}", **settings)


def options_from(options_class: Type[Options], namespace: argparse.Namespace, **others: Any) -> Options:
    """An ``options_class`` made from the parsed flags of its :func:`option` fields (as
    :func:`add_option_arguments` added them) and ``others`` for its remaining fields and those
    left out of the flags."""
    flags = {item.name: getattr(namespace, item.name) for item in dataclasses.fields(options_class)
             if "flag" in item.metadata and item.name not in others}
    return options_class(**flags, **others)
