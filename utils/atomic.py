"""Atomic file writes: a reader never sees a half-written file under its final name."""
from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, List, Optional, Union

from utils.errors import InputError

__all__ = ["PathLike", "atomic_writer", "write_json_report", "remove_stale_temporaries", "temporary_path", "discard",
           "atomic_path"]

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


def temporary_path(final: PathLike, folder: Optional[PathLike] = None) -> Path:
    """A fresh hidden name for the temporary twin of ``final``, in ``folder`` (default: beside it).

    The same ``.<stem>.<32 hex digits>.tmp<suffix>`` shape :func:`atomic_writer` uses, so
    :func:`remove_stale_temporaries` recognises it and the final extension still picks the format.
    """
    final = Path(final)
    return Path(folder if folder is not None else final.parent) / f".{final.stem}.{uuid.uuid4().hex}.tmp{final.suffix}"


def discard(path: PathLike) -> None:
    """Delete a temporary file or folder tree if it exists; never raises, so the error that made
    it a leftover is the one the caller sees."""
    path = Path(path)
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()
    except OSError:
        pass


@contextmanager
def atomic_path(path: PathLike, *, make_parents: bool = True) -> Iterator[Path]:
    """Yield a temporary path for a file or folder that some other writer (an encoder, an image
    library) creates; it is renamed onto ``path`` only if the block succeeds, and deleted on any
    failure or interrupt, leaving an existing ``path`` untouched.

    :func:`atomic_writer` is the variant for content written through a Python file handle.
    """
    final = Path(os.path.abspath(path))
    if make_parents:
        final.parent.mkdir(parents=True, exist_ok=True)
    temp = temporary_path(final)
    try:
        yield temp
        os.replace(temp, final)
    except BaseException:
        discard(temp)
        raise
