"""Putting checkpoints on disk from the network: sources in order, each file verified, written atomically.

A downloaded file is written under a temporary name beside its final place, verified (the caller
passes the check, see :func:`models.checkpoint.verify_published`) and only then renamed; on any
failure or interrupt the temporary file and any folder created for it are removed, so the output
folder never holds a partial or unverified file. The SHA-256 of every accepted file is recorded
in ``SHA256SUMS`` in the output folder (the ``sha256sum -c`` format, updated under a lock on the
folder so concurrent downloads keep every line), and checked on later runs.

No source can fill the disk or hold a run for ever: a weights file is capped at
:data:`models.published.MAX_FILE_BYTES` and an archive at ``MAX_ARCHIVE_BYTES`` (refused by their
declared size, and reading stops at the cap), and a source slower than the transfer limits
(:class:`utils.download.TransferLimits`) is abandoned for the next. Temporaries left by a killed
download (a partial file beside its target, an archive in the system's temporary folder) are
swept when a later download starts, once untouched for ``STALE_AFTER_S``.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from models.published import MAX_ARCHIVE_BYTES, MAX_FILE_BYTES, PublishedCheckpoint, Source, checkpoint_sources
from utils.atomic import atomic_writer, remove_stale_temporaries, temporary_path
from utils.download import DownloadError, TransferLimits, download_to, extract_member, url_host
from utils.errors import InputError
from utils.folder_lock import folder_lock

__all__ = [
    "OFFLINE_VARIABLE",
    "SUMS_FILE",
    "FetchError",
    "downloads_disabled",
    "sha256_of",
    "read_sums",
    "record_sum",
    "check_recorded_sum",
    "DownloadLimits",
    "DEFAULT_LIMITS",
    "STALE_AFTER_S",
    "Downloader",
]

OFFLINE_VARIABLE = "IFRNET_OFFLINE"
SUMS_FILE = "SHA256SUMS"
Verify = Callable[[Path], None]  # raises InputError (e.g. CheckpointError) naming what is wrong
# A download's temporary is written to at least once per rate window (60 s) or abandoned, and
# verified within seconds: one untouched for 10 minutes belongs to a process that was killed.
STALE_AFTER_S = 600.0
_ARCHIVE_TEMPORARY = "ifrnet-archive.zip"  # in the system's temporary folder, as .ifrnet-archive.<hex>.tmp.zip


@dataclass(frozen=True)
class DownloadLimits:
    """The most bytes a weights file and an archive may have, and how slowly a source may send them."""

    file_bytes: int = MAX_FILE_BYTES
    archive_bytes: int = MAX_ARCHIVE_BYTES
    transfer: TransferLimits = field(default_factory=TransferLimits)

    def for_file(self) -> TransferLimits:
        return replace(self.transfer, max_bytes=self.file_bytes)

    def for_archive(self) -> TransferLimits:
        return replace(self.transfer, max_bytes=self.archive_bytes)


DEFAULT_LIMITS = DownloadLimits()  # what a Downloader uses unless given others (tests set small ones)


class FetchError(InputError):
    """Every source of a file failed; the one-line message names each source and why."""


def downloads_disabled(offline: bool = False) -> bool:
    """True when ``offline`` is set or ``IFRNET_OFFLINE`` is set to anything but 0/false/no."""
    return offline or os.environ.get(OFFLINE_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_sums(root: Path) -> Dict[str, str]:
    """{relative path: sha256} recorded in ``root/SHA256SUMS`` (empty when there is none)."""
    sums = {}
    try:
        lines = (Path(root) / SUMS_FILE).read_text().splitlines()
    except OSError:
        return sums
    for line in lines:
        digest, _, name = line.strip().partition(" ")
        if digest and name:
            sums[name.strip().lstrip("*")] = digest.lower()
    return sums


def record_sum(root: Path, relative: str, digest: str) -> None:
    """Record ``digest`` for ``root/relative`` in ``root/SHA256SUMS`` (read and rewritten atomically
    under a lock on ``root``, so two processes recording at once keep both lines)."""
    with folder_lock(root):
        sums = read_sums(root)
        sums[relative] = digest
        text = "".join(f"{sums[name]}  {name}\n" for name in sorted(sums))
        with atomic_writer(Path(root) / SUMS_FILE) as handle:
            handle.write(text.encode())


def check_recorded_sum(root: Path, relative: str) -> Optional[str]:
    """None when ``root/relative`` matches its recorded SHA-256 (or none is recorded); else why not."""
    recorded = read_sums(root).get(relative)
    if recorded is None:
        return None
    actual = sha256_of(Path(root) / relative)
    if actual == recorded:
        return None
    return f"{Path(root) / relative} is not the file that was downloaded (its SHA-256 differs from the one in {Path(root) / SUMS_FILE})"


def _make_parents(folder: Path) -> List[Path]:
    """Create ``folder`` and its missing parents; return those created, deepest first."""
    created = []
    while not folder.exists():
        created.append(folder)
        folder = folder.parent
    for path in reversed(created):
        path.mkdir()
    return created


def _remove_if_empty(folders: List[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


class Downloader:
    """Fetches files into ``root``; use as a context manager so a shared archive is fetched once per run.

    Hosts that could not be reached at all are not tried again in the same run, so a machine
    without internet fails over to the next source (and to the caller's fallback) within seconds.
    ``limits`` (default :data:`DEFAULT_LIMITS`) caps sizes and sets how slow a source may be.
    """

    def __init__(self, root: Path, *, progress: bool = True, log: Callable[[str], None] = None,
                 limits: Optional[DownloadLimits] = None) -> None:
        self.root = Path(root)
        self.progress = progress
        self.log = log or (lambda message: print(message, file=sys.stderr))
        self.limits = DEFAULT_LIMITS if limits is None else limits
        self._archives: Dict[str, object] = {}  # url -> Path of the fetched zip, or its DownloadError
        self._unreachable: set = set()
        remove_stale_temporaries(self.root, older_than_s=STALE_AFTER_S)  # e.g. a SHA256SUMS update cut short

    def __enter__(self) -> "Downloader":
        return self

    def __exit__(self, *exc) -> None:
        for fetched in self._archives.values():
            if isinstance(fetched, Path):
                fetched.unlink(missing_ok=True)
        self._archives.clear()

    def fetch(self, entry: PublishedCheckpoint, verify: Verify) -> Path:
        """Put ``entry`` at ``root/entry.path`` from the first source that gives a verified file."""
        failures: List[Tuple[str, str]] = []
        for source in checkpoint_sources(entry):
            try:
                return self._place(source.url_for(entry.file_name), source, entry.file_name, entry.path, verify,
                                   expected_sha256=entry.sha256)
            except (DownloadError, InputError) as error:
                failures.append((source.label, str(error)))
        if not failures:
            failures.append(("", "no source is configured"))
        reasons = "; ".join(f"{label}: {reason}" if label else reason for label, reason in failures)
        raise FetchError(f"could not download {entry.file_name}: {reasons}")

    def fetch_url(self, url: str, relative: str, verify: Verify) -> Path:
        """Put the file at ``url`` at ``root/relative``, verified (a checkpoint given by URL)."""
        try:
            return self._place(url, Source(url, url), Path(relative).name, relative, verify)
        except (DownloadError, InputError) as error:
            raise FetchError(f"could not download {url}: {error}") from None

    def _place(self, url: str, source: Source, file_name: str, relative: str, verify: Verify,
               expected_sha256: Optional[str] = None) -> Path:
        host = url_host(url)
        if host in self._unreachable:
            raise DownloadError(f"skipped, {host} could not be reached")
        target = self.root / relative
        remove_stale_temporaries(target.parent, older_than_s=STALE_AFTER_S)  # left by a killed download
        created = _make_parents(target.parent)
        try:
            with atomic_writer(target, make_parents=False) as handle:
                if source.archive:
                    self.log(f"taking {file_name} from {url}")
                    extract_member(self._archive(url), file_name, handle, max_bytes=self.limits.file_bytes)
                else:
                    self.log(f"downloading {url}")
                    download_to(url, handle, label=file_name, progress=self.progress, limits=self.limits.for_file())
                handle.flush()
                verify(Path(handle.name))
                digest = sha256_of(Path(handle.name))
                if expected_sha256 and digest != expected_sha256.lower():
                    raise DownloadError("its SHA-256 differs from the published file's")
        except DownloadError as error:
            _remove_if_empty(created)
            if error.unreachable:
                self._unreachable.add(host)
            raise
        except BaseException:
            _remove_if_empty(created)
            raise
        record_sum(self.root, relative, digest)
        return target

    def _archive(self, url: str) -> Path:
        """The zip at ``url``, fetched once per run into the system's temporary folder (outside ``root``)."""
        cached = self._archives.get(url)
        if isinstance(cached, BaseException):
            raise cached
        if cached is not None:
            return cached
        folder = Path(tempfile.gettempdir())
        prefix = "." + Path(_ARCHIVE_TEMPORARY).stem + "."
        remove_stale_temporaries(folder, older_than_s=STALE_AFTER_S, prefix=prefix)  # archives of killed runs
        path = temporary_path(folder / _ARCHIVE_TEMPORARY)
        try:
            with open(path, "xb") as handle:
                download_to(url, handle, label="archive", progress=self.progress, limits=self.limits.for_archive())
        except DownloadError as error:
            path.unlink(missing_ok=True)
            self._archives[url] = error
            if error.unreachable:
                self._unreachable.add(url_host(url))
            raise
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        self._archives[url] = path
        return path
