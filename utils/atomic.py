"""Writing files safely: atomic replacement, strict JSON reports, and output checks made up front."""
from __future__ import annotations

import json
import math
import os
import re
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, List, Optional, TextIO, Union

from utils.errors import InputError

__all__ = [
    "PathLike",
    "atomic_writer",
    "write_json_report",
    "check_output_folder",
    "check_output_file",
    "unwritable",
    "remove_stale_temporaries",
]

PathLike = Union[str, "os.PathLike[str]"]


def _remove_quietly(path: Path) -> None:
    """Delete a temporary file if it can be; a failed clean-up must not hide the error that caused it."""
    try:
        os.unlink(path)
    except OSError:
        pass


@contextmanager
def atomic_writer(path: PathLike, *, make_parents: bool = True) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` only once it is completely written.

    The temporary file sits in the destination directory (so ``os.replace`` is a same-filesystem,
    atomic rename) and keeps the final extension (so format sniffing by extension still works).
    It is opened with ``"xb"`` rather than ``mkstemp`` to get the usual umask permissions, not 0600.
    On any failure, including an interrupt, the temporary file is removed; the original error is
    raised once (a clean-up that fails too, e.g. on a read-only file system, is not raised again).
    """
    final = Path(path)
    if make_parents:
        final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.{uuid.uuid4().hex}.tmp{final.suffix}")
    handle = open(tmp, "xb")  # if this fails there is nothing to clean up
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    except BaseException:
        _remove_quietly(tmp)
        raise


def unwritable(path: PathLike, error: OSError, flag: Optional[str] = None) -> InputError:
    """The one-line error for an output that could not be written (read-only, full disk, no permission)."""
    what = f"{flag} {os.fspath(path)}" if flag else os.fspath(path)
    return InputError(f"cannot write {what}: {error.strerror or error}")


def check_output_folder(folder: PathLike, flag: str = "--output") -> None:
    """Refuse, before any long work, an output folder that cannot be created or written into.

    The folder need not exist: its nearest existing ancestor must be a folder this process may
    write into (``os.access`` also reports a read-only file system, even to root). A path under a
    file, or a file where the folder should be, is named in the error.
    """
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        if existing == folder:
            raise InputError(f"{flag} {folder} is a file, not a folder")
        raise InputError(f"{flag} {folder} cannot be created: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {folder}: {existing} is not writable (no permission or a read-only file system)")


def check_output_file(path: PathLike, flag: str) -> None:
    """Refuse, before any long work, an output file that is a folder or whose folder cannot be written.

    A benchmark that finds out only after hours that its ``--json`` cannot be written loses the run.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{flag} {path} is a folder; give a file name")
    check_output_folder(path.parent, f"{flag}'s folder")


def _finite_or_null(value: object, where: str, replaced: List[str]) -> object:
    """``value`` with every non-finite float (NaN, +-Infinity) replaced by None; their places are noted."""
    if isinstance(value, float) and not math.isfinite(value):
        replaced.append(f"{where}={value}")
        return None
    if isinstance(value, dict):
        return {key: _finite_or_null(item, f"{where}.{key}" if where else str(key), replaced) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(item, f"{where}[{index}]", replaced) for index, item in enumerate(value)]
    return value


def write_json_report(path: PathLike, report: object, *, notes: Optional[TextIO] = None) -> List[str]:
    """Write a report as strict, indented JSON, atomically; an unwritable path is an InputError.

    JSON has no NaN or Infinity (Python's ``json`` would write bare ``NaN``, which other parsers
    reject), so non-finite numbers are written as ``null`` and a note on stderr (or ``notes``)
    says which. Returns the places replaced, e.g. ``["per_sample[0].psnr=inf"]``.
    """
    replaced: List[str] = []
    text = json.dumps(_finite_or_null(report, "", replaced), indent=2, allow_nan=False) + "\n"
    try:
        with atomic_writer(path) as handle:
            handle.write(text.encode())
    except OSError as error:
        raise unwritable(path, error, "--json") from None
    if replaced:
        shown = ", ".join(replaced[:3]) + (f" and {len(replaced) - 3} more" if len(replaced) > 3 else "")
        print(f"note: {os.fspath(path)}: {len(replaced)} non-finite value(s) written as null ({shown})", file=notes or sys.stderr)
    return replaced


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
