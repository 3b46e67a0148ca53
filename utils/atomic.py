"""Writing files safely: atomic replacement, strict JSON reports, and output checks made up front."""
from __future__ import annotations

import errno
import json
import math
import os
import re
import shutil
import stat
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, List, Optional, TextIO, Tuple, Union

from utils.errors import InputError

__all__ = [
    "PathLike",
    "atomic_writer",
    "atomic_path",
    "temporary_path",
    "temporary_name_pattern",
    "discard",
    "write_json_report",
    "check_output_folder",
    "check_output_file",
    "is_within",
    "check_folder_spares_input",
    "check_output_name",
    "unwritable",
    "remove_stale_temporaries",
    "full_disk_is_one_line",
]

PathLike = Union[str, "os.PathLike[str]"]


@contextmanager
def atomic_writer(path: PathLike, *, make_parents: bool = True, overwrite: bool = True) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` only once it is completely written.

    The temporary file sits in the destination directory (so ``os.replace`` is a same-filesystem,
    atomic rename) and keeps the final extension (so format sniffing by extension still works).
    It is opened with ``"xb"`` rather than ``mkstemp`` to get the usual umask permissions, not 0600.
    On any failure, including an interrupt, the temporary file is removed; the original error is
    raised once (a clean-up that fails too, e.g. on a read-only file system, is not raised again).

    What the path is decides how it is written (see :func:`_resolve_output`): a character device
    or FIFO (``/dev/null``, ``/dev/stdout`` into a pipe) is written through, never renamed over;
    a symlink keeps pointing where it did and its target gets the content. ``overwrite=False``
    refuses, at the final step and atomically, a ``path`` that another process created meanwhile.
    A full disk is one :class:`InputError` naming ``path``.
    """
    final, through = _resolve_output(path)
    if through:
        if not overwrite:
            raise _already_exists(final)
        with full_disk_is_one_line(final), _open_through(final) as handle:
            yield handle
        return
    if make_parents:
        final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(final)
    with full_disk_is_one_line(final):
        handle = open(tmp, "xb")  # if this fails there is nothing to clean up
        try:
            with handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            _move_into_place(tmp, final, overwrite)
        except BaseException:
            discard(tmp)
            raise


# Errors that mean the disk (or the user's quota) is full: reported in one line, whatever wrote.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


@contextmanager
def full_disk_is_one_line(final: PathLike) -> Iterator[None]:
    """Turn a full disk met while writing ``final`` into ``cannot write <final>: no space left on device``.

    :func:`atomic_writer` wraps its whole block in it; a caller writing several files at once wraps
    each write, so the message names the file that did not fit.
    """
    try:
        yield
    except OSError as error:
        if error.errno not in _NO_SPACE:
            raise
        raise InputError(f"cannot write {final}: no space left on device") from None


def _resolve_output(path: PathLike) -> Tuple[Path, bool]:
    """(where to write, whether to write through) for an output ``path``.

    An atomic rename replaces whatever the name held: on ``/dev/null`` (as root) that breaks the
    machine, on a symlink it swaps the link for a file. So a character device or FIFO is written
    through (opened by its own name, which also reaches the pipe behind ``/dev/stdout``), a symlink
    (a chain, or one to a missing file) is followed to its target, which is then replaced
    atomically, and a block device or socket is refused. Anything else is written as given.
    One of this process's own descriptors (``/dev/stdout``, ``/dev/fd/N``) is written through
    whatever it holds, a regular file included (see :func:`_open_through`).
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


def _open_through(final: Path) -> BinaryIO:
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


def _already_exists(final: Path) -> InputError:
    return InputError(f"output already exists: {final} (written by another process meanwhile?); pass --overwrite to replace it")


def _remove_empty_folder(folder: Path) -> None:
    try:
        os.rmdir(folder)
    except OSError:
        pass


# What os.link raises on file systems without hard links (FAT, some network and FUSE mounts).
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK, errno.EXDEV}


def _move_into_place(temp: Path, final: Path, overwrite: bool) -> None:
    """Rename the finished ``temp`` onto ``final``; without ``overwrite`` only if ``final`` is still free.

    The check and the rename are one step, so of two processes finishing the same new output
    exactly one wins and the other gets a one-line refusal: a file is hard-linked to its final
    name (which fails if the name exists; on a file system without hard links the name is claimed
    with an exclusive create and then renamed over), a folder claims its name with ``mkdir`` and
    is renamed onto that empty folder. A folder output that appeared meanwhile is refused even
    with ``overwrite`` (a rename cannot replace a folder that holds files).
    """
    if temp.is_dir():
        if not overwrite:
            try:
                os.mkdir(final)
            except FileExistsError:
                raise _already_exists(final) from None
        try:
            os.rename(temp, final)
        except OSError as error:
            if not overwrite:
                _remove_empty_folder(final)  # the one claimed above, unless another writer filled it
            if error.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise _already_exists(final) from None
            raise
        return
    if overwrite:
        os.replace(temp, final)
        return
    try:
        os.link(temp, final)
    except FileExistsError:
        raise _already_exists(final) from None
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        try:
            os.close(os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            raise _already_exists(final) from None
        os.replace(temp, final)
        return
    os.unlink(temp)


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


# The longest file name in bytes that nearly every file system takes (ext4, XFS, Btrfs, APFS, NTFS):
# temporary names are kept within it; a folder that takes fewer is checked by check_output_name.
_NAME_MAX = 255


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
    on the way, the output, or the temporary name it is written under first, :func:`temporary_path`)
    longer than its file system takes, or a symlink loop on the way. Otherwise each shows only when
    the output is opened, after the work (``File name too long``, ``Symlink loop``)."""
    final = Path(os.path.abspath(path))
    name_max = _limit(final.parent, "PC_NAME_MAX", _NAME_MAX)
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
    path, through = _resolve_output(path)  # a block device is refused, a symlink checked at its target
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


def remove_stale_temporaries(folder: PathLike, *, output: Optional[PathLike] = None,
                             older_than_s: Optional[float] = None, prefix: str = "") -> List[Path]:
    """Delete the temporary files :func:`atomic_writer` left in ``folder`` when its process was killed.

    A killed process (SIGKILL, power loss) cannot clean up, so each interrupted save leaves a
    hidden partial file as large as the real one. Call this when a program that owns ``folder``
    starts, before it writes there; returns the removed paths. A program that writes one file
    into a folder others share (the current directory) passes ``output``: then only the
    temporaries of that name go, from ``output``'s folder (its target's, for a symlink) rather
    than ``folder``, never another program's. In a folder other processes may be writing into at
    the same time (downloads), ``older_than_s`` spares files modified more recently; ``prefix``
    limits the sweep to names starting with it (a shared folder such as /tmp).
    """
    pattern = _TEMPORARY_NAME
    if output is not None:
        final = _resolve_output(output)[0]
        folder = final.parent
        pattern = temporary_name_pattern(final)
    removed = []
    now = time.time()
    for path in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []:
        if pattern.fullmatch(path.name) and path.name.startswith(prefix) and path.is_file():
            try:
                if older_than_s is not None and now - path.stat().st_mtime <= older_than_s:
                    continue
            except FileNotFoundError:
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed.append(path)
    return removed


def temporary_name_pattern(final: PathLike) -> "re.Pattern[str]":
    """The names :func:`temporary_path` gives ``final``'s temporaries (to match with ``fullmatch``)."""
    final = Path(final)
    return re.compile(rf"\.{re.escape(_temporary_stem(final))}\.[0-9a-f]{{32}}\.tmp{re.escape(final.suffix)}")


def _temporary_stem(final: Path) -> str:
    """``final``'s stem, shortened by whole characters as far as its temporary name needs to stay
    within :data:`_NAME_MAX` bytes: a name the file system takes has a temporary twin it takes too."""
    stem, budget = final.stem, _NAME_MAX - len(os.fsencode(f"...{'0' * 32}tmp{final.suffix}"))
    while stem and len(os.fsencode(stem)) > budget:
        stem = stem[:-1]
    return stem


def temporary_path(final: PathLike, folder: Optional[PathLike] = None) -> Path:
    """A fresh hidden name for the temporary twin of ``final``, in ``folder`` (default: beside it).

    The same ``.<stem>.<32 hex digits>.tmp<suffix>`` shape :func:`atomic_writer` uses, so
    :func:`remove_stale_temporaries` recognises it and the final extension still picks the format;
    a long stem is shortened so the name stays within what file systems take.
    """
    final = Path(final)
    name = f".{_temporary_stem(final)}.{uuid.uuid4().hex}.tmp{final.suffix}"
    return Path(folder if folder is not None else final.parent) / name


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
def atomic_path(path: PathLike, *, make_parents: bool = True, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path for a file or folder that some other writer (an encoder, an image
    library) creates; it is renamed onto ``path`` only if the block succeeds, and deleted on any
    failure or interrupt, leaving an existing ``path`` untouched.

    Devices, FIFOs, symlinks and ``overwrite`` are treated as by :func:`atomic_writer` (a finished
    file is copied into a device or FIFO, then deleted). A folder that another process created at
    ``path`` meanwhile is a one-line refusal, not ``OSError: Directory not empty``.
    :func:`atomic_writer` is the variant for content written through a Python file handle.
    """
    final, through = _resolve_output(path)
    if through and not overwrite:
        raise _already_exists(final)
    if make_parents and not through:
        final.parent.mkdir(parents=True, exist_ok=True)
    temp = temporary_path(final, folder=tempfile.gettempdir() if through else None)
    with full_disk_is_one_line(final):
        try:
            yield temp
            if through and temp.is_dir():
                raise InputError(f"cannot write {final}: it is a device or pipe, which takes a file, not a folder")
            if through:
                with open(temp, "rb") as source, _open_through(final) as sink:
                    shutil.copyfileobj(source, sink)
                discard(temp)
            else:
                _move_into_place(temp, final, overwrite)
        except BaseException:
            discard(temp)
            raise
