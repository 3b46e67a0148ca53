"""Output paths checked before any long work, and the one-line error for an output that could not be written.

A tool that finds out only after hours that its output cannot be written loses the run; one that
writes into the folder holding its input can write over it. Each check here refuses such a path up
front, in one line naming the flag.
"""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Optional

from utils.atomic import NAME_MAX, temporary_path
from utils.errors import InputError
from utils.output_target import PathLike, resolve_output

__all__ = [
    "check_output_folder",
    "check_output_file",
    "check_output_name",
    "check_folder_spares_input",
    "is_within",
    "unwritable",
]


def unwritable(path: PathLike, error: OSError, flag: Optional[str] = None) -> InputError:
    """The one-line error for an output that could not be written (read-only, full disk, no permission)."""
    what = f"{flag} {os.fspath(path)}" if flag else os.fspath(path)
    return InputError(f"cannot write {what}: {error.strerror or error}")


def check_output_folder(folder: PathLike, flag: str = "--output", *, create: bool = False) -> None:
    """Refuse, before any long work, an output folder that cannot be created or written into.

    The folder need not exist: its nearest existing ancestor must be a folder this process may
    write into. ``os.access`` reports a missing permission and a read-only file system (even to
    root); a probe file then catches what permission bits do not show (a pseudo file system, an
    immutable folder). A path under a file, or a file where the folder should be, is named in the
    error. ``create`` also makes the folder, for callers that write into it at once.
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
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".ifrnet-probe-"):
            pass
    except OSError as error:
        raise InputError(f"{flag} {folder}: {existing} does not take new files ({error.strerror or error})") from None
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"{flag} {folder} cannot be created: {error.strerror or error}") from None


def _limit(folder: Path, name: str, default: int) -> int:
    """``os.pathconf(folder, name)`` of the nearest folder that exists, or ``default`` where unknown."""
    while not os.path.isdir(folder) and folder.parent != folder:
        folder = folder.parent
    try:
        return os.pathconf(folder, name)
    except (OSError, ValueError):
        return default


def check_output_name(path: PathLike, flag: str = "--output") -> None:
    """Refuse, before any long work, an output path the file system cannot create: a name (a folder
    on the way, the output, or the temporary name it is written under first,
    :func:`utils.atomic.temporary_path`) longer than its file system takes, or a symlink loop on
    the way. Otherwise each shows only when the output is opened, after the work (``File name too
    long``, ``Symlink loop``)."""
    final = Path(os.path.abspath(path))
    name_max = _limit(final.parent, "PC_NAME_MAX", NAME_MAX)
    for part in final.parts[1:]:
        if len(os.fsencode(part)) > name_max:
            raise InputError(f"{flag} {os.fspath(path)}: the name {part[:20]}... is {len(os.fsencode(part))} bytes long; "
                             f"the file system takes at most {name_max}")
    temporary = temporary_path(final).name
    if len(os.fsencode(temporary)) > name_max:
        raise InputError(f"{flag} {os.fspath(path)}: the temporary name it is written under first ({temporary[:20]}...) "
                         f"is {len(os.fsencode(temporary))} bytes long, and the file system takes at most {name_max}; "
                         "choose a shorter name")
    try:
        os.stat(final)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise InputError(f"{flag} {os.fspath(path)}: a symlink loop (too many levels of symbolic links)") from None


def check_output_file(path: PathLike, flag: str) -> None:
    """Refuse, before any long work, an output file that is a folder or whose folder cannot be written.

    A benchmark that finds out only after hours that its ``--json`` cannot be written loses the run.
    """
    check_output_name(path, flag)
    path, through = resolve_output(path)  # a block device is refused, a symlink checked at its target
    if through:
        if not os.access(path, os.W_OK):
            raise InputError(f"{flag} {path} is not writable")
        return
    if path.is_dir():
        raise InputError(f"{flag} {path} is a folder; give a file name")
    check_output_folder(path.parent, f"{flag}'s folder")


def is_within(path: PathLike, folder: PathLike) -> bool:
    """Whether ``path`` is ``folder`` or lies under it, both resolved (symlinks followed, ``..`` gone)."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def check_folder_spares_input(folder: PathLike, input_path: PathLike, flag: str = "the output folder") -> None:
    """Refuse an output ``folder`` that is the input folder, holds the input, or lies inside an input folder.

    Nothing but a tool's output may be replaced, and a tool writing into a folder that holds its
    input can write over it (a frame named like the input, a rerun on its own results). Called
    before any work; an input that does not exist is left to the reader's own error.
    """
    folder, input_path = Path(folder), Path(input_path)
    if not input_path.exists():
        return
    if folder.resolve() == input_path.resolve():
        raise InputError(f"{flag} {folder} is the input folder; choose another output folder")
    if is_within(input_path, folder):
        raise InputError(f"{flag} {folder} holds the input {input_path}; choose another output folder")
    if input_path.is_dir() and is_within(folder, input_path):
        raise InputError(f"{flag} {folder} is inside the input folder {input_path}; choose another output folder")
