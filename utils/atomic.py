"""Writing a file or folder whole or not at all: a temporary twin beside it, renamed into place.

Every output of the project is written this way, so an interrupted or failed run never leaves a
truncated file under the requested name and keeps the old one. The temporaries have one name
shape (:func:`temporary_path`), so those a killed process left are found and swept
(:func:`remove_stale_temporaries`). Paths that must not be renamed over (devices, FIFOs, symlinks)
are resolved by :mod:`utils.output_target`.
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, List, Optional

from utils.errors import InputError
from utils.output_target import PathLike, open_through, resolve_output

__all__ = [
    "PathLike",
    "NAME_MAX",
    "atomic_writer",
    "atomic_path",
    "temporary_path",
    "temporary_name_pattern",
    "discard",
    "remove_stale_temporaries",
    "full_disk_is_one_line",
]


@contextmanager
def atomic_writer(path: PathLike, *, make_parents: bool = True, overwrite: bool = True) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` only once it is completely written.

    The temporary file sits in the destination directory (so ``os.replace`` is a same-filesystem,
    atomic rename) and keeps the final extension (so format sniffing by extension still works).
    It is opened with ``"xb"`` rather than ``mkstemp`` to get the usual umask permissions, not 0600.
    On any failure, including an interrupt, the temporary file is removed; the original error is
    raised once (a clean-up that fails too, e.g. on a read-only file system, is not raised again).

    What the path is decides how it is written (see :func:`utils.output_target.resolve_output`): a
    character device or FIFO (``/dev/null``, ``/dev/stdout`` into a pipe) is written through, never
    renamed over; a symlink keeps pointing where it did and its target gets the content. ``overwrite=False``
    refuses, at the final step and atomically, a ``path`` that another process created meanwhile.
    A full disk is one :class:`InputError` naming ``path``.
    """
    final, through = resolve_output(path)
    if through:
        if not overwrite:
            raise _already_exists(final)
        with full_disk_is_one_line(final), open_through(final) as handle:
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
    final, through = resolve_output(path)
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
                with open(temp, "rb") as source, open_through(final) as sink:
                    shutil.copyfileobj(source, sink)
                discard(temp)
            else:
                _move_into_place(temp, final, overwrite)
        except BaseException:
            discard(temp)
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


# The longest file name in bytes that nearly every file system takes (ext4, XFS, Btrfs, APFS, NTFS):
# temporary names are kept within it; a folder that takes fewer is checked by
# utils.output_checks.check_output_name.
NAME_MAX = 255


def temporary_name_pattern(final: PathLike) -> "re.Pattern[str]":
    """The names :func:`temporary_path` gives ``final``'s temporaries (to match with ``fullmatch``)."""
    final = Path(final)
    return re.compile(rf"\.{re.escape(_temporary_stem(final))}\.[0-9a-f]{{32}}\.tmp{re.escape(final.suffix)}")


def _temporary_stem(final: Path) -> str:
    """``final``'s stem, shortened by whole characters as far as its temporary name needs to stay
    within :data:`NAME_MAX` bytes: a name the file system takes has a temporary twin it takes too."""
    stem, budget = final.stem, NAME_MAX - len(os.fsencode(f"...{'0' * 32}tmp{final.suffix}"))
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


# The name atomic_writer gives its temporary files: ".<stem>.<32 hex digits>.tmp<suffix>".
_TEMPORARY_NAME = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp(\.[^.]+)?$")


def remove_stale_temporaries(folder: PathLike, *, output: Optional[PathLike] = None,
                             older_than_s: Optional[float] = None, prefix: str = "") -> List[Path]:
    """Delete the temporaries (files, or folders of :func:`atomic_path`) a killed process left in ``folder``.

    A killed process (SIGKILL, power loss) cannot clean up, so each interrupted save leaves a
    hidden partial output as large as the real one. Call this when a program that owns ``folder``
    starts, before it writes there; returns the removed paths. A program that writes one output
    into a folder others share (the current directory) passes ``output``: then only the
    temporaries of that name go, never another program's, from ``output``'s folder (its target's,
    for a symlink) rather than ``folder``, and from inside ``output`` when it is a folder (where a
    writer that merges into an existing folder keeps its temporary). In a folder other processes
    may be writing into at the same time (downloads, video outputs), ``older_than_s`` spares what
    changed more recently (a folder: its newest entry); ``prefix`` limits the sweep to names
    starting with it (a shared folder such as /tmp). Symlinks are left alone: no writer makes one.
    """
    pattern, folders = _TEMPORARY_NAME, [Path(folder)]
    if output is not None:
        final = resolve_output(output)[0]
        pattern = temporary_name_pattern(final)
        folders = [final.parent] + ([final] if final.is_dir() else [])
    removed = []
    now = time.time()
    for place in folders:
        try:
            candidates = sorted(entry for entry in place.iterdir()
                                if pattern.fullmatch(entry.name) and entry.name.startswith(prefix) and not entry.is_symlink())
        except OSError:
            continue
        for candidate in candidates:
            changed = _last_change(candidate)
            if changed is None or (older_than_s is not None and now - changed <= older_than_s):
                continue
            discard(candidate)
            if not os.path.lexists(candidate):  # discard never raises: what it could not delete is not reported
                removed.append(candidate)
    return removed


def _last_change(path: Path) -> Optional[float]:
    """When ``path`` (a file, or a folder and its entries) last changed; None once it is gone
    (its writer finished meanwhile)."""
    try:
        newest = path.stat().st_mtime
        if path.is_dir():
            for entry in os.scandir(path):
                newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
        return newest
    except FileNotFoundError:
        return None
