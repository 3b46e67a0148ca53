"""Fetching a file over HTTP(S) into an open file, and taking one member out of a zip archive.

Standard library only (urllib) plus tqdm for the progress bar, so downloading adds no
dependency. Every failure becomes a :class:`DownloadError` whose message is a few words a user
can act on ("HTTP 404 Not Found", "connection refused", "transfer ended after 3.0 of 11.2 MB"),
because callers try several sources and list why each one failed.
"""
from __future__ import annotations

import http.client
import shutil
import socket
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import BinaryIO, Union

from tqdm import tqdm

__all__ = ["DownloadError", "CONNECT_TIMEOUT_S", "is_url", "url_host", "download_to", "extract_member"]

# Seconds to wait for a connection, and then for each block of data. Short so that a machine
# without internet (or behind a firewall that drops packets) falls back within seconds.
CONNECT_TIMEOUT_S = 10.0
_USER_AGENT = "ifrnet-checkpoint-downloader (python urllib)"
_CHUNK = 1 << 20


class DownloadError(OSError):
    """A source that gave no usable file; the message says why in a few words.

    ``unreachable`` is True when the host could not be reached at all (refused, unknown host,
    timeout): other files on the same host need not be tried.
    """

    def __init__(self, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.unreachable = unreachable


def is_url(text: Union[str, Path]) -> bool:
    """True for http:// and https:// addresses (a local path is never one)."""
    return isinstance(text, str) and text.lower().startswith(("http://", "https://"))


def url_host(url: str) -> str:
    """host:port of ``url``, to remember hosts that could not be reached."""
    return urllib.parse.urlsplit(url).netloc.lower()


def _reason(error: BaseException) -> DownloadError:
    """A short reason for a failed request."""
    if isinstance(error, urllib.error.HTTPError):
        return DownloadError(f"HTTP {error.code} {error.reason}".strip())
    cause = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(cause, ConnectionRefusedError):
        return DownloadError("connection refused", unreachable=True)
    if isinstance(cause, socket.gaierror):
        return DownloadError("host not found (offline?)", unreachable=True)
    if isinstance(cause, (socket.timeout, TimeoutError)):
        return DownloadError(f"no answer within {CONNECT_TIMEOUT_S:g} s", unreachable=True)
    if isinstance(cause, ssl.SSLError):
        return DownloadError(f"TLS error ({cause.reason or cause})")
    if isinstance(cause, http.client.IncompleteRead):
        return DownloadError("the transfer ended early")
    text = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
    return DownloadError(text, unreachable=isinstance(cause, ConnectionError))


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


def download_to(url: str, handle: BinaryIO, *, label: str = "", progress: bool = True) -> int:
    """GET ``url`` and write the body to ``handle``; returns the number of bytes written.

    Redirects are followed (GitHub release assets and Dropbox links redirect). The progress bar
    (size and rate) goes to stderr. A body shorter than the announced Content-Length raises
    :class:`DownloadError`, so an interrupted transfer is never mistaken for a whole file.
    """
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    written, total = 0, None
    try:
        with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label or url, file=sys.stderr,
                      disable=not progress, leave=False) as bar:
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    handle.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
    except DownloadError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        if written:  # the host answered, then the transfer broke off
            of = f" of {_megabytes(total)}" if total else ""
            raise DownloadError(f"the transfer ended after {_megabytes(written)}{of} ({_reason(error)})") from None
        raise _reason(error) from None
    if total is not None and written != total:
        raise DownloadError(f"the transfer ended after {_megabytes(written)} of {_megabytes(total)}")
    return written


def extract_member(archive: Path, base_name: str, handle: BinaryIO) -> str:
    """Copy the first file named ``base_name`` (in any folder of the zip ``archive``) into ``handle``.

    Archives of shared folders nest the files at varying depths (``checkpoints/IFRNet/...`` or
    ``IFRNet/...``), so only the base name is matched. Returns the member's name.
    """
    try:
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                if not info.is_dir() and Path(info.filename).name == base_name:
                    with zipped.open(info) as member:
                        shutil.copyfileobj(member, handle, _CHUNK)
                    return info.filename
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
        raise DownloadError(f"not a readable zip archive ({error})") from None
    raise DownloadError(f"the archive holds no file named {base_name}")
