"""Atomic file writes: a reader never sees a half-written file under its final name."""
from __future__ import annotations

import json
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, Union

from utils.errors import InputError

__all__ = ["PathLike", "atomic_writer", "write_json_report"]

PathLike = Union[str, "os.PathLike[str]"]


@contextmanager
def atomic_writer(path: PathLike, *, make_parents: bool = True) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` only once it is completely written.

    The temporary file sits in the destination directory (so ``os.replace`` is a same-filesystem,
    atomic rename) and keeps the final extension (so format sniffing by extension still works).
    It is opened with ``"xb"`` rather than ``mkstemp`` to get the usual umask permissions, not 0600.
    On any failure, including an interrupt, the temporary file is removed.
    """
    final = Path(path)
    if make_parents:
        final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.{uuid.uuid4().hex}.tmp{final.suffix}")
    try:
        with open(tmp, "xb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json_report(path: PathLike, report: object) -> None:
    """Write a benchmark report as indented JSON, atomically; an unwritable path is an InputError."""
    try:
        with atomic_writer(path) as handle:
            handle.write((json.dumps(report, indent=2) + "\n").encode())
    except OSError as error:
        raise InputError(f"cannot write --json {path}: {error.strerror or error}") from None
