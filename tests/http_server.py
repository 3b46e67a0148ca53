"""A loopback HTTP server for download tests: serves given bytes by path, records requests, and misbehaves on
request: cuts a transfer short, declares a size it does not send, sends for ever, drips (body or headers), redirects in a loop."""
from __future__ import annotations

import io
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Set


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        server = self.server
        server.requests.append(self.path)
        server.authorizations.append(self.headers.get("Authorization"))
        if self.path in server.redirects:
            self.send_response(302)
            self.send_header("Location", server.redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path in server.header_drip:
            self._drip_headers(server.header_drip[self.path])
            return
        if self.path in server.endless or self.path in server.drip:
            self._send_for_ever(server.drip.get(self.path))
            return
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(server.declared.get(self.path, len(body))))
        self.end_headers()
        if self.path in server.truncated:  # announce the whole file, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)

    def _drip_headers(self, interval: float) -> None:
        """A status line, then one header that does not end: a byte every ``interval`` s, 200 of them
        (then the server hangs up, so a client without a header limit fails its test instead of hanging it)."""
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            self.wfile.flush()
            for _ in range(200):
                if self.server.stopping.wait(interval):
                    break
                self.wfile.write(b"a")
                self.wfile.flush()
        except OSError:  # the client hung up
            pass
        self.close_connection = True

    def _send_for_ever(self, interval) -> None:
        """No Content-Length; 64 KiB blocks as fast as the client reads, or one byte every ``interval`` s,
        until the client hangs up or the server stops."""
        self.send_response(200)
        self.end_headers()
        self.close_connection = True
        block = b"\0" * (1 << 16) if interval is None else b"\0"
        try:
            while not self.server.stopping.is_set():
                self.wfile.write(block)
                self.wfile.flush()
                self.server.sent[self.path] = self.server.sent.get(self.path, 0) + len(block)
                if interval is not None:
                    self.server.stopping.wait(interval)
        except OSError:  # the client hung up
            pass

    def log_message(self, *args) -> None:
        pass


class LoopbackServer:
    """``with LoopbackServer() as server: server.files["/a/x.pth"] = data; url = server.url("/a/")``."""

    def __init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.files: Dict[str, bytes] = {}
        self._httpd.truncated: Set[str] = set()
        self._httpd.requests: List[str] = []
        self._httpd.authorizations: List[Optional[str]] = []  # each request's Authorization header
        self._httpd.declared: Dict[str, int] = {}  # path -> Content-Length to announce instead of the real one
        self._httpd.endless: Set[str] = set()  # paths whose body never ends
        self._httpd.drip: Dict[str, float] = {}  # path -> seconds between single bytes, for ever
        self._httpd.header_drip: Dict[str, float] = {}  # path -> seconds between single header bytes, for ever
        self._httpd.redirects: Dict[str, str] = {}  # path -> Location of a 302
        self._httpd.sent: Dict[str, int] = {}  # bytes sent so far on endless and dripping paths
        self._httpd.stopping = threading.Event()
        # A short poll: shutdown() waits for the serving loop's next poll, and tests start many servers.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    files = property(lambda self: self._httpd.files)
    truncated = property(lambda self: self._httpd.truncated)
    requests = property(lambda self: self._httpd.requests)
    authorizations = property(lambda self: self._httpd.authorizations)
    declared = property(lambda self: self._httpd.declared)
    endless = property(lambda self: self._httpd.endless)
    drip = property(lambda self: self._httpd.drip)
    header_drip = property(lambda self: self._httpd.header_drip)
    redirects = property(lambda self: self._httpd.redirects)
    sent = property(lambda self: self._httpd.sent)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{path}"

    def __enter__(self) -> "LoopbackServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def free_loopback_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def closed_port_url(path: str = "/") -> str:
    """A loopback URL on a port nothing listens on (connection refused)."""
    return f"http://127.0.0.1:{free_loopback_port()}{path}"


def zip_of(members: Dict[str, bytes]) -> bytes:
    """A zip archive (stored, not compressed) holding ``members`` at the given inner paths."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()
