"""Fetching a file over HTTP(S) into an open file (urllib3, a tqdm progress bar), and one member out of a zip.

Each failure is a :class:`DownloadError` of a few words on one line ("HTTP 404 Not Found", "connection
refused"): callers try several sources and list why each failed. No source can make a download unbounded
(:class:`TransferLimits`); only http(s) redirects are followed. A URL appears in a message only as
:func:`display_url` shows it, without a password or a query (a signed URL's token).
"""
from __future__ import annotations

import contextlib
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Optional, Union

import urllib3
from tqdm import tqdm
from urllib3.connection import HTTPConnection, HTTPSConnection

__all__ = ["DownloadError", "TransferLimits", "is_url", "url_host", "display_url", "download_to", "extract_member"]

CONNECT_TIMEOUT_S = 10.0  # for a connection, then each read: without internet, the fallback comes within seconds
MAX_REDIRECTS = 10
_CHUNK = 1 << 20


class DownloadError(OSError):
    """A source that gave no usable file; the message says why in a few words."""


@dataclass(frozen=True)
class TransferLimits:
    """A source sends at most ``max_bytes``, within ``deadline_s``, at ``min_rate`` bytes/s or more over
    every ``rate_window_s``, its response headers (after redirects) within ``headers_within_s``. The
    220 MB archive takes 6 min at 600 kB/s; under 10 kB/s for a minute, the next source is better."""

    max_bytes: float = float("inf")
    deadline_s: float = 1800.0
    min_rate: float = 10_000.0
    rate_window_s: float = 60.0
    headers_within_s: float = 60.0


def is_url(text: Union[str, Path]) -> bool:
    """True for http:// and https:// addresses (a local path is never one)."""
    return isinstance(text, str) and text.lower().startswith(("http://", "https://"))


def url_host(url: str) -> str:
    """host:port of ``url``, without any user:password."""
    return urllib.parse.urlsplit(url).netloc.rpartition("@")[2].lower()


def display_url(url: str) -> str:
    """``url`` as scheme://host/path (one without a host, such as ``data:``, as its scheme alone)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{url_host(url)}{parts.path}" if url[len(parts.scheme):].startswith("://") else f"{parts.scheme}:..."


class _HeaderDeadline(threading.Timer):
    """Shuts the current connection down when the response headers are late (a read timeout restarts with
    every byte, so dripped header bytes would hold a read for ever). After :meth:`stop`, no cut can come."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds, self._cut)
        self.daemon, self.ends, self.connection, self.fired = True, time.monotonic() + seconds, None, False
        self._lock = threading.Lock()
        self.start()

    def _cut(self) -> None:
        with self._lock:
            self.fired = not self.finished.is_set()  # set by stop()
            sock = getattr(self.connection, "sock", None)
            if self.fired and sock is not None:
                with contextlib.suppress(OSError):  # as a plain socket, under TLS too: TLS stays its owner's
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def stop(self) -> bool:  # True if it fired
        self.cancel()
        with self._lock:
            return self.fired


def _get(url: str, deadline: _HeaderDeadline) -> urllib3.BaseHTTPResponse:
    """GET ``url``, following http(s) redirects; a user:password goes to its own host as basic authentication."""
    for _ in range(MAX_REDIRECTS + 1):
        parts = urllib3.util.parse_url(url)
        if parts.scheme not in ("http", "https"):
            raise DownloadError(f"redirected to a non-http(s) URL {display_url(url)}")
        connect_s = max(1e-3, min(CONNECT_TIMEOUT_S, deadline.ends - time.monotonic()))  # none opens after the cut
        deadline.connection = connection = (HTTPSConnection if parts.scheme == "https" else HTTPConnection)(
            parts.host, parts.port, timeout=connect_s)
        connection.connect()
        if deadline.fired:  # it fired while the socket was being made, with nothing to cut
            raise TimeoutError
        connection.timeout = CONNECT_TIMEOUT_S  # for each read from here on
        headers = urllib3.make_headers(user_agent="ifrnet-checkpoint-downloader",
                                       basic_auth=parts.auth and urllib.parse.unquote(parts.auth))
        connection.request("GET", parts.request_uri, headers=headers, preload_content=False, decode_content=False)
        response = connection.getresponse()
        if response.status not in (301, 302, 303, 307, 308) or "Location" not in response.headers:
            return response
        connection.close()
        url = urllib.parse.urljoin(url, response.headers["Location"])
    raise DownloadError(f"more than {MAX_REDIRECTS} redirects (a redirect loop)")


def _reason(error: BaseException) -> DownloadError:
    """A few words for a failed request (urllib3's own messages name objects, or quote the URL)."""
    failed, cause = urllib3.exceptions, error.__cause__
    refused = "connection refused" if isinstance(cause, ConnectionRefusedError) else f"no connection ({cause})"
    for kinds, reason in (  # NameResolution- < NewConnection- < ConnectTimeoutError: the first match counts
            (failed.NameResolutionError, "host not found (offline?)"),
            (failed.NewConnectionError, refused),
            (failed.ConnectTimeoutError, f"no answer within {CONNECT_TIMEOUT_S:g} s"),
            ((failed.ReadTimeoutError, TimeoutError), f"no data for {CONNECT_TIMEOUT_S:g} s"),
            ((ssl.SSLError, failed.SSLError), f"TLS error ({error})"),
            ((failed.ProtocolError, ConnectionError), "the connection broke off"),
            (ValueError, "a malformed URL or redirect")):
        if isinstance(error, kinds):
            return DownloadError(" ".join(reason.split()))
    return DownloadError(getattr(error, "strerror", None) or type(error).__name__)


def _megabytes(count: float, total: Optional[float] = None) -> str:
    return f"{count / 1e6:.1f} MB" + (f" of {total / 1e6:.1f} MB" if total else "")


def download_to(url: str, handle: BinaryIO, *, label: str = "", progress: bool = True,
                limits: TransferLimits = TransferLimits()) -> int:
    """GET ``url`` and write the body to ``handle`` (a progress bar on stderr); returns its size. A body
    shorter than its Content-Length (urllib3 enforces it), over ``limits.max_bytes`` (refused unread by its
    declared size, else when reading reaches the cap) or slower than ``limits`` allow raises DownloadError."""
    host, cap, written, total = url_host(url), limits.max_bytes, 0, None
    deadline = _HeaderDeadline(limits.headers_within_s)
    try:
        try:
            response = _get(url, deadline)
        finally:
            if deadline.stop():  # the cut fails the read, or ends the headers early as if complete
                raise DownloadError(f"{host} was too slow: no complete response headers within {limits.headers_within_s:g} s")
        if response.status >= 400:
            raise DownloadError(" ".join(f"HTTP {response.status} {response.reason}".split()))
        if (total := response.length_remaining) is not None and total > cap:  # the Content-Length
            raise DownloadError(f"it declares {_megabytes(total)}, over the {_megabytes(cap)} limit (not downloaded)")
        started = window_start = time.monotonic()
        window_bytes = 0
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label or host, file=sys.stderr,
                  disable=not progress, leave=False) as bar:
            while chunk := response.read1(_CHUNK):  # what has arrived, so a slow source is timed
                if written + len(chunk) > cap:
                    raise DownloadError(f"the body goes on past the {_megabytes(cap)} limit (stopped reading)")
                handle.write(chunk)
                bar.update(len(chunk))
                written, window_bytes, now = written + len(chunk), window_bytes + len(chunk), time.monotonic()
                if now - started > limits.deadline_s:
                    raise DownloadError(f"{host} was too slow: {_megabytes(written, total)} in the {limits.deadline_s:g} s allowed")
                if now - window_start >= limits.rate_window_s:
                    if (rate := window_bytes / (now - window_start)) < limits.min_rate:
                        raise DownloadError(f"{host} was too slow: {rate / 1e3:.2f} kB/s over {now - window_start:.0f} s, "
                                            f"under the {limits.min_rate / 1e3:g} kB/s minimum")
                    window_start, window_bytes = now, 0
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as error:
        if isinstance(error, DownloadError):
            raise
        if written:  # the host answered, then the transfer broke off
            raise DownloadError(f"the transfer ended after {_megabytes(written, total)} ({_reason(error)})") from None
        raise _reason(error) from None
    finally:
        if deadline.connection is not None:
            deadline.connection.close()
    return written


def extract_member(archive: Union[Path, BinaryIO], base_name: str, handle: BinaryIO, *, max_bytes: float = float("inf")) -> None:
    """Copy the first file named ``base_name``, in any folder of the zip ``archive`` (shared folders nest
    files at varying depths), into ``handle``. A member declaring more than ``max_bytes`` is refused
    unpacked (a small zip may declare gigabytes), and copying stops at the cap."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            info = next((i for i in zipped.infolist() if not i.is_dir() and Path(i.filename).name == base_name), None)
            if info is None:
                raise DownloadError(f"the archive holds no file named {base_name}")
            if info.file_size > max_bytes:
                raise DownloadError(f"the archive's {info.filename} declares {_megabytes(info.file_size)}, "
                                    f"over the {_megabytes(max_bytes)} limit (not unpacked)")
            copied = 0
            with zipped.open(info) as member:
                while block := member.read(_CHUNK):
                    if (copied := copied + len(block)) > max_bytes:
                        raise DownloadError(f"the archive's {info.filename} unpacks past the {_megabytes(max_bytes)} limit (stopped)")
                    handle.write(block)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as error:
        raise DownloadError(" ".join(f"not a readable zip archive ({error})".split())) from None
