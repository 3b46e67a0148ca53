"""A loopback HTTP server for download tests: serves given bytes by path, records requests, can cut a transfer short."""
from __future__ import annotations

import io
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Set


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        server = self.server
        server.requests.append(self.path)
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path in server.truncated:  # announce the whole file, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class LoopbackServer:
    """``with LoopbackServer() as server: server.files["/a/x.pth"] = data; url = server.url("/a/")``."""

    def __init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.files: Dict[str, bytes] = {}
        self._httpd.truncated: Set[str] = set()
        self._httpd.requests: List[str] = []
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    files = property(lambda self: self._httpd.files)
    truncated = property(lambda self: self._httpd.truncated)
    requests = property(lambda self: self._httpd.requests)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{path}"

    def __enter__(self) -> "LoopbackServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
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
