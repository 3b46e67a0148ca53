"""Putting checkpoints on disk from the network: sources in order, each file verified, written atomically.

A download is written under a temporary name beside its place, checked by the caller (see
:func:`models.checkpoint.verify_weights_file`) and only then renamed; its SHA-256 goes to ``SHA256SUMS``
(``sha256sum -c`` format), checked on later runs. Each file is fetched holding the folder's lock
(:mod:`filelock`): two processes neither download a file twice nor lose each other's ``SHA256SUMS`` lines.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Dict, Iterable, Optional, Tuple, Union

from filelock import FileLock

from models.published import MAX_ARCHIVE_BYTES, MAX_FILE_BYTES
from utils.atomic import atomic_writer, remove_stale_temporaries
from utils.download import DownloadError, TransferLimits, display_url, download_to, extract_member
from utils.errors import InputError

__all__ = ["OFFLINE_VARIABLE", "SUMS_FILE", "LOCK_FILE", "FILE_LIMITS", "ARCHIVE_LIMITS", "STALE_AFTER_S", "FetchError",
           "downloads_disabled", "sha256_of", "read_sums", "record_sum", "check_recorded_sum", "Downloader"]

OFFLINE_VARIABLE = "IFRNET_OFFLINE"
SUMS_FILE = "SHA256SUMS"
LOCK_FILE = ".download.lock"
# How much and how slowly a source may send a weights file (a zip member's cap too), and an archive.
FILE_LIMITS = TransferLimits(max_bytes=MAX_FILE_BYTES)
ARCHIVE_LIMITS = TransferLimits(max_bytes=MAX_ARCHIVE_BYTES)
STALE_AFTER_S = 600.0  # a live download writes every rate window (60 s): an older temporary is a killed one's
Verify = Callable[[Path], None]  # raises InputError (e.g. CheckpointError) naming what is wrong


class FetchError(InputError):
    """Every source of a file failed; the one-line message names each source and why."""


def downloads_disabled(offline: bool = False) -> bool:
    """True when ``offline`` is set or ``IFRNET_OFFLINE`` is set to anything but 0/false/no."""
    return offline or os.environ.get(OFFLINE_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def read_sums(root: Path) -> Dict[str, str]:
    """{relative path: sha256} recorded in ``root/SHA256SUMS`` (empty when there is none)."""
    try:
        pairs = [line.strip().partition(" ")[::2] for line in (Path(root) / SUMS_FILE).read_text().splitlines()]
    except OSError:
        return {}
    return {name.strip().lstrip("*"): digest.lower() for digest, name in pairs if digest and name.strip()}


def record_sum(root: Path, relative: str, digest: str) -> None:
    """Record ``digest`` for ``root/relative`` in ``root/SHA256SUMS``, under the folder's lock."""
    with FileLock(Path(root) / LOCK_FILE, is_singleton=True):  # one object per folder: its holder may take it again
        sums = {**read_sums(root), relative: digest}
        with atomic_writer(Path(root) / SUMS_FILE) as handle:
            handle.write("".join(f"{sums[name]}  {name}\n" for name in sorted(sums)).encode())


def check_recorded_sum(root: Path, relative: str) -> Optional[str]:
    """None when ``root/relative`` matches its recorded SHA-256 (or none is recorded); else why not."""
    recorded = read_sums(root).get(relative)
    if recorded is None or sha256_of(Path(root) / relative) == recorded:
        return None
    return f"{Path(root) / relative} is not the file that was downloaded (its SHA-256 differs from the one in {Path(root) / SUMS_FILE})"


class Downloader:
    """Fetches files into ``root``; used as a context manager, it fetches a shared archive once per run."""

    def __init__(self, root: Path, *, progress: bool = True) -> None:
        self.root, self.progress = Path(root), progress
        self._archives: Dict[str, Union[BinaryIO, DownloadError]] = {}  # url -> the fetched zip, or why not
        self._closing = contextlib.ExitStack()

    def __enter__(self) -> "Downloader":
        return self

    def __exit__(self, *exc) -> None:
        self._closing.close()

    def fetch(self, relative: str, sources: Iterable[Tuple[str, str, bool]], verify: Verify) -> Path:
        """Put a file at ``root/relative`` from the first of ``sources`` (label, URL, whether a zip holding it)
        that gives a verified one; else :class:`FetchError` naming each source and why it failed."""
        failures = []
        for label, url, archive in sources:
            try:
                return self._place(url, archive, relative, verify)
            except (DownloadError, InputError) as error:
                failures.append(f"{label}: {error}")
        raise FetchError(f"could not download {Path(relative).name}: {'; '.join(failures) or 'no source is configured'}")

    def _place(self, url: str, archive: bool, relative: str, verify: Verify) -> Path:
        target = self.root / relative
        created = [folder for folder in (target.parent, *target.parent.parents) if not folder.exists()]  # deepest first
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(self.root / LOCK_FILE, is_singleton=True):
                recorded = read_sums(self.root).get(relative)
                if recorded and target.is_file() and sha256_of(target) == recorded:
                    return target  # another process put it there while this one waited for the lock
                for folder in {target.parent, self.root}:  # partial files and SHA256SUMS updates of killed runs
                    remove_stale_temporaries(folder, older_than_s=STALE_AFTER_S)
                with atomic_writer(target, make_parents=False) as handle:
                    print(f"{'taking ' + target.name + ' from' if archive else 'downloading'} {display_url(url)}", file=sys.stderr)
                    if archive:
                        extract_member(self._archive(url), target.name, handle, max_bytes=FILE_LIMITS.max_bytes)
                    else:
                        download_to(url, handle, label=target.name, progress=self.progress, limits=FILE_LIMITS)
                    handle.flush()
                    verify(Path(handle.name))
                record_sum(self.root, relative, sha256_of(target))
                return target
        except BaseException:
            if self.root in created:  # made for this download: leave nothing
                (self.root / LOCK_FILE).unlink(missing_ok=True)
            for folder in created:
                with contextlib.suppress(OSError):  # one that holds something stays
                    folder.rmdir()
            raise

    def _archive(self, url: str) -> BinaryIO:
        """The zip at ``url``, fetched once per run into an unnamed temporary file (nothing is left behind)."""
        if url not in self._archives:
            self._archives[url] = handle = self._closing.enter_context(tempfile.TemporaryFile())
            try:
                download_to(url, handle, label="archive", progress=self.progress, limits=ARCHIVE_LIMITS)
            except DownloadError as error:
                self._archives[url] = error
        if isinstance(self._archives[url], DownloadError):
            raise self._archives[url]
        return self._archives[url]
