"""What an output path really names, for writers that must not rename over it.

An atomic rename replaces whatever the name held: on ``/dev/null`` (as root) that breaks the
machine, on a symlink it swaps the link for a file. :func:`resolve_output` says where to write and
whether to write through (open the path in place) rather than rename; :func:`open_through` opens
such a path. :mod:`utils.atomic` writes with both, :mod:`utils.output_checks` checks with the first.
"""
from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path
from typing import BinaryIO, Optional, Tuple, Union

from utils.errors import InputError

__all__ = ["PathLike", "resolve_output", "open_through"]

PathLike = Union[str, "os.PathLike[str]"]


def resolve_output(path: PathLike) -> Tuple[Path, bool]:
    """(where to write, whether to write through) for an output ``path``.

    A character device or FIFO is written through (opened by its own name, which also reaches the
    pipe behind ``/dev/stdout``), a symlink (a chain, or one to a missing file) is followed to its
    target, which is then replaced atomically, and a block device or socket is refused. Anything
    else is written as given. One of this process's own descriptors (``/dev/stdout``,
    ``/dev/fd/N``) is written through whatever it holds, a regular file included (see
    :func:`open_through`).
    """
    final = Path(os.path.abspath(path))
    if _own_descriptor(final) is not None:
        return final, True
    try:
        mode = os.stat(final).st_mode  # follows symlinks, /proc/self/fd links included
    except OSError:
        mode = None
    if mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        return final, True
    if mode is not None and (stat.S_ISBLK(mode) or stat.S_ISSOCK(mode)):
        kind = "a block device" if stat.S_ISBLK(mode) else "a socket"
        raise InputError(f"cannot write {final}: it is {kind}; give a file name")
    if final.is_symlink():
        return Path(os.path.realpath(final)), False
    return final, False


def _own_descriptor(path: Path) -> Optional[int]:
    """N when ``path`` (or a symlink chain from it: ``/dev/stdout`` -> ``/proc/self/fd/1``) names
    this process's open descriptor N."""
    names = re.compile(rf"^/(?:dev/fd|proc/self/fd|proc/thread-self/fd|proc/{os.getpid()}/fd)/(\d+)$")
    current = os.fspath(path)
    for _ in range(40):  # the kernel's own limit on a chain of links
        match = names.match(current)
        if match:
            try:
                os.fstat(int(match.group(1)))
            except OSError:
                return None  # not open: treated as the path it points to
            return int(match.group(1))
        if not os.path.islink(current):
            return None
        current = os.path.abspath(os.path.join(os.path.dirname(current), os.readlink(current)))
    return None


def open_through(final: Path) -> BinaryIO:
    """A device or FIFO opened for writing in place; this process's own descriptor (``--json
    /dev/stdout``) is duplicated rather than reopened, so the output lands at its current position
    (after what was printed, before what will be) even when it is a regular file, which reopening
    would truncate and a rename would unlink."""
    descriptor = _own_descriptor(final)
    if descriptor is None:
        return open(final, "wb")
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # what was printed before comes first
    return os.fdopen(os.dup(descriptor), "wb")
