"""Whether the app can serve on the address it was given, asked of the operating system before Gradio starts.

Gradio reports a host that is not an address ("256.1.1.1") or a port another server holds as
"Cannot find empty port", with a traceback, after the page is built. Binding a socket to the
address the way the server will (address reuse on, as uvicorn sets it), then closing it, names
the actual problem in one line and costs nothing.
"""
from __future__ import annotations

import errno
import socket

from utils.errors import InputError

__all__ = ["check_serving_address"]


def check_serving_address(host: str, port: int) -> None:
    """Raise InputError unless a server can listen on ``host``:``port`` now."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InputError(f"--host {host} is not an IP address or a host name this machine resolves ({reason})") from None
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise InputError(f"--port {port} is in use on {host} (another server, or another app.py); "
                                 "choose another --port") from None
            if error.errno == errno.EADDRNOTAVAIL:
                raise InputError(f"--host {host} is not an address of this machine; give one of its addresses, "
                                 "127.0.0.1 (this machine only) or 0.0.0.0 (every network)") from None
            if error.errno == errno.EACCES:
                raise InputError(f"--port {port} needs privileges this process lacks (as ports below 1024 do); "
                                 "choose a port from 1024") from None
            raise InputError(f"cannot serve on {host}:{port}: {error.strerror or error}") from None
