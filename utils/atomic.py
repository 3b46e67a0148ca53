"""Atomic file writes: a reader never sees a half-written file under its final name."""
from __future__ import annotations

import json
import os
import re
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, List, Union

from utils.errors import InputError

__all__ = ["PathLike", "atomic_writer", "write_json_report", "remove_stale_temporaries"]

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


# The name atomic_writer gives its temporary files: ".<stem>.<32 hex digits>.tmp<suffix>".
_TEMPORARY_NAME = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp(\.[^.]+)?$")


def remove_stale_temporaries(folder: PathLike) -> List[Path]:
    """Delete the temporary files :func:`atomic_writer` left in ``folder`` when its process was killed.

    A killed process (SIGKILL, power loss) cannot clean up, so each interrupted save leaves a
    hidden partial file as large as the real one. Call this when a program that owns ``folder``
    starts, before it writes there; returns the removed paths.
    """
    removed = []
    for path in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []:
        if _TEMPORARY_NAME.match(path.name) and path.is_file():
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed.append(path)
    return removed
