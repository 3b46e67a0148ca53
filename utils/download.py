"""Fetching a file over HTTP(S) into an open file, and taking one member out of a zip archive.

Standard library only (urllib) plus tqdm for the progress bar, so downloading adds no
dependency. Every failure becomes a :class:`DownloadError` whose message is a few words on one
line a user can act on ("HTTP 404 Not Found", "connection refused", "transfer ended after 3.0 of
11.2 MB"), because callers try several sources and list why each one failed.

A source cannot make a download unbounded (:class:`TransferLimits`): a body larger than the
caller's cap is refused by its declared size (Content-Length, a zip member's size) before it is
read, and reading stops at the cap when nothing was declared; a source too slow to finish (an
overall deadline, and a minimum rate over a window, so one byte every few seconds cannot hold a
download for ever; the response headers, which urllib reads before any of this can be checked,
must be complete within their own limit) is abandoned with its host named, and the caller tries
the next one.
"""
from __future__ import annotations

import http.client
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, List, Optional, Type, Union

from tqdm import tqdm

__all__ = ["DownloadError", "CONNECT_TIMEOUT_S", "TransferLimits", "is_url", "url_host", "download_to", "extract_member"]

# Seconds to wait for a connection, and then for each block of data. Short so that a machine
# without internet (or behind a firewall that drops packets) falls back within seconds.
CONNECT_TIMEOUT_S = 10.0
_USER_AGENT = "ifrnet-checkpoint-downloader (python urllib)"
# A whole transfer must end within DEADLINE_S and keep at least MIN_RATE bytes/s over every
# RATE_WINDOW_S: the 220 MB archive takes 22 s at 10 MB/s and 6 min at 600 kB/s, well inside; a
# source under 10 kB/s for a minute would need more than 6 hours and is better replaced by the next.
DEADLINE_S = 1800.0
MIN_RATE = 10_000.0
RATE_WINDOW_S = 60.0
# The status line and headers (after any redirects) must arrive within HEADERS_WITHIN_S: a server
# sending a header byte every few seconds would otherwise hold urllib for ever (each byte resets
# the per-read timeout).
HEADERS_WITHIN_S = 60.0
_CHUNK = 1 << 20


class DownloadError(OSError):
    """A source that gave no usable file; the message says why in a few words.

    ``unreachable`` is True when the host could not be reached at all (refused, unknown host,
    timeout): other files on the same host need not be tried.
    """

    def __init__(self, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.unreachable = unreachable


@dataclass(frozen=True)
class TransferLimits:
    """How much and how slowly a source may send: ``max_bytes`` (None: no cap), an overall
    ``deadline_s``, and at least ``min_rate`` bytes/s over each ``rate_window_s`` once started."""

    max_bytes: Optional[int] = None
    deadline_s: float = DEADLINE_S
    min_rate: float = MIN_RATE
    rate_window_s: float = RATE_WINDOW_S
    headers_within_s: float = HEADERS_WITHIN_S


class _HeaderWatchdog:
    """Cuts the connections of one request when its headers are late.

    urllib blocks while it connects (a proxy's CONNECT, the TLS handshake) and reads the status
    line and headers, and its timeout applies to each read, not to the whole: the only way to end
    the wait is to shut the connection down from another thread, which makes the blocked read fail
    at once. Each TCP connection (one per redirect) is recorded as it is created, before any TLS
    wrap, through a duplicate of its socket (the TLS socket takes the original over; a shutdown of
    the duplicate ends the same connection). Leaving the ``with`` block stops the watchdog for good:
    ``fired`` is final there, so a cut can never land in the body's reads unseen.
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._done = False
        self._sockets: List[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True

    def __enter__(self) -> "_HeaderWatchdog":
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()  # the duplicates only: the connection stays open for the body

    def _cut(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut_down(sock)

    def _watch(self, sock: socket.socket) -> None:
        duplicate = sock.dup()
        with self._lock:
            self._sockets.append(duplicate)
            cut = self.fired
        if cut:  # a connection opened after the time was up (a late redirect)
            _shut_down(duplicate)

    def opener(self) -> urllib.request.OpenerDirector:
        """urllib's default opener, with connections this watchdog can cut."""
        watchdog = self

        def watched(connection_class: Type[http.client.HTTPConnection]) -> Type[http.client.HTTPConnection]:
            class Watched(connection_class):  # type: ignore[valid-type, misc]
                def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 (http.client's signature)
                    super().__init__(*args, **kwargs)
                    create = self._create_connection

                    def create_watched(*args, **kwargs) -> socket.socket:  # noqa: ANN002, ANN003
                        sock = create(*args, **kwargs)
                        watchdog._watch(sock)
                        return sock

                    self._create_connection = create_watched

            return Watched

        class Plain(urllib.request.HTTPHandler):
            def do_open(self, http_class, req, **kwargs):  # noqa: ANN001 (urllib's signature)
                return super().do_open(watched(http_class), req, **kwargs)

        class Secure(urllib.request.HTTPSHandler):
            def do_open(self, http_class, req, **kwargs):  # noqa: ANN001
                return super().do_open(watched(http_class), req, **kwargs)

        return urllib.request.build_opener(Plain, Secure)


def _shut_down(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed by its owner
        pass


def is_url(text: Union[str, Path]) -> bool:
    """True for http:// and https:// addresses (a local path is never one)."""
    return isinstance(text, str) and text.lower().startswith(("http://", "https://"))


def url_host(url: str) -> str:
    """host:port of ``url``, to remember hosts that could not be reached."""
    return urllib.parse.urlsplit(url).netloc.lower()


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _reason(error: BaseException) -> DownloadError:
    """A short reason for a failed request, on one line."""
    if isinstance(error, urllib.error.HTTPError):
        if 300 <= error.code < 400:  # urllib gives up on a loop with a three-line message
            return DownloadError(f"HTTP {error.code}: too many redirects (a redirect loop)")
        return DownloadError(_one_line(f"HTTP {error.code} {error.reason}"))
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
    return DownloadError(_one_line(text), unreachable=isinstance(cause, ConnectionError))


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


def download_to(url: str, handle: BinaryIO, *, label: str = "", progress: bool = True,
                limits: TransferLimits = TransferLimits()) -> int:
    """GET ``url`` and write the body to ``handle``; returns the number of bytes written.

    Redirects are followed (GitHub release assets and Dropbox links redirect). The progress bar
    (size and rate) goes to stderr. A body shorter than the announced Content-Length raises
    :class:`DownloadError`, so an interrupted transfer is never mistaken for a whole file; so do
    a body over ``limits.max_bytes`` (refused by its Content-Length before reading, else when
    reading reaches the cap) and a source slower than ``limits`` allow, named by its host.
    """
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    host = url_host(url)
    cap = limits.max_bytes
    written, total = 0, None
    started = time.monotonic()
    window_start, window_bytes = started, 0
    try:
        response = None
        with _HeaderWatchdog(limits.headers_within_s) as watchdog:
            try:
                response = watchdog.opener().open(request, timeout=CONNECT_TIMEOUT_S)
            except (urllib.error.URLError, http.client.HTTPException, OSError):
                if not watchdog.fired:
                    raise
        if watchdog.fired:  # the cut fails the read, or ends the headers early as if they were complete
            if response is not None:
                response.close()
            raise DownloadError(f"{host} was too slow: no complete response headers within {limits.headers_within_s:g} s")
        with response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if cap is not None and total is not None and total > cap:
                raise DownloadError(f"it declares {_megabytes(total)}, over the {_megabytes(cap)} limit (not downloaded)")
            read = getattr(response, "read1", response.read)  # read1: what has arrived, so slow sources are timed
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label or url, file=sys.stderr,
                      disable=not progress, leave=False) as bar:
                while True:
                    chunk = read(_CHUNK)
                    if not chunk:
                        break
                    if cap is not None and written + len(chunk) > cap:
                        raise DownloadError(f"the body goes on past the {_megabytes(cap)} limit (stopped reading)")
                    handle.write(chunk)
                    written += len(chunk)
                    window_bytes += len(chunk)
                    bar.update(len(chunk))
                    now = time.monotonic()
                    if now - started > limits.deadline_s:
                        of = f" of {_megabytes(total)}" if total else ""
                        raise DownloadError(f"{host} was too slow: {_megabytes(written)}{of} in the "
                                            f"{limits.deadline_s:g} s allowed")
                    if now - window_start >= limits.rate_window_s:
                        rate = window_bytes / (now - window_start)
                        if rate < limits.min_rate:
                            raise DownloadError(f"{host} was too slow: {rate / 1e3:.2f} kB/s over {now - window_start:.0f} s, "
                                                f"under the {limits.min_rate / 1e3:g} kB/s minimum")
                        window_start, window_bytes = now, 0
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


def extract_member(archive: Path, base_name: str, handle: BinaryIO, *, max_bytes: Optional[int] = None) -> str:
    """Copy the first file named ``base_name`` (in any folder of the zip ``archive``) into ``handle``.

    Archives of shared folders nest the files at varying depths (``checkpoints/IFRNet/...`` or
    ``IFRNet/...``), so only the base name is matched. A member declaring more than ``max_bytes``
    is refused before anything is unpacked (a small zip may declare gigabytes), and copying stops
    at the cap whatever it declared. Returns the member's name.
    """
    try:
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                if not info.is_dir() and Path(info.filename).name == base_name:
                    if max_bytes is not None and info.file_size > max_bytes:
                        raise DownloadError(f"the archive's {info.filename} declares {_megabytes(info.file_size)}, "
                                            f"over the {_megabytes(max_bytes)} limit (not unpacked)")
                    copied = 0
                    with zipped.open(info) as member:
                        for block in iter(lambda: member.read(_CHUNK), b""):
                            copied += len(block)
                            if max_bytes is not None and copied > max_bytes:
                                raise DownloadError(f"the archive's {info.filename} unpacks past the "
                                                    f"{_megabytes(max_bytes)} limit (stopped)")
                            handle.write(block)
                    return info.filename
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as error:
        raise DownloadError(_one_line(f"not a readable zip archive ({error})")) from None
    raise DownloadError(f"the archive holds no file named {base_name}")
