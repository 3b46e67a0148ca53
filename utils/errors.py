"""The project's error for bad input: one sentence a command-line tool can print as is."""
from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad user input (a missing file, an image of the wrong kind, a checkpoint that does not fit).

    Scripts print its message as a single line and exit non-zero instead of a traceback; anything
    else that goes wrong is a bug and keeps its traceback.
    """
