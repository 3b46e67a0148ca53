"""An exclusive lock on a folder, for a short read-modify-write of a file kept in it (``SHA256SUMS``).

Two processes that each read a list file, add their line and write it back lose each other's lines
(the atomic rename keeps the file whole, not both updates). Holding this lock around the read and
the write makes the updates take turns. On POSIX the folder itself is locked with ``fcntl.flock``:
its inode never changes (a lock file beside the list would be left behind, or if removed could be
locked twice), and the kernel releases the lock when the process dies. Without ``fcntl``
(Windows), a lock file created exclusively stands in, removed on release and taken over when a
killed process left it older than ``stale_after_s``.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from utils.atomic import PathLike

__all__ = ["folder_lock", "LOCK_FILE"]

LOCK_FILE = ".ifrnet.lock"  # the fallback's lock file, in the folder


@contextmanager
def folder_lock(folder: PathLike, *, stale_after_s: float = 60.0) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (which must exist) for the duration of the block."""
    if fcntl is not None:
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # releases the lock
        return
    lock = Path(folder) / LOCK_FILE
    while True:
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            try:
                if time.time() - lock.stat().st_mtime > stale_after_s:
                    lock.unlink()  # left by a killed process
                    continue
            except FileNotFoundError:
                continue
            time.sleep(0.02)
    try:
        yield
    finally:
        os.close(descriptor)
        lock.unlink(missing_ok=True)
