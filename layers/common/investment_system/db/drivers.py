"""The one module that knows the database drivers' internals (pg8000, PyMySQL): their connection's socket.

A pooled connection the server closed while it sat idle (a terminated backend, RDS Proxy's idle
timeout, a server restart) has its end already waiting in its socket: a goodbye and an EOF. Looking
costs no round trip, so the pool looks at every checkout instead of pinging (db/engine.py). Neither
driver makes its socket public; if an upgrade renames it, `closed_by_server` answers False and the
first statement on a dead connection fails as it would without the look (503, retryable).
"""

from __future__ import annotations

import select
import socket
from typing import Any

# pg8000 keeps its socket as `_usock` (its `_sock` is a buffered file over it); PyMySQL as `_sock`.
_SOCKET_ATTRIBUTES = ("_usock", "_sock")


def _socket_of(dbapi_connection: Any) -> socket.socket | None:
    for name in _SOCKET_ATTRIBUTES:
        candidate = getattr(dbapi_connection, name, None)
        if isinstance(candidate, socket.socket):
            return candidate
    return None


def closed_by_server(dbapi_connection: Any) -> bool:
    """Whether the server has spoken on an idle connection: between requests it never does unless it is
    closing the connection, so anything readable means the connection is finished. No round trip."""
    sock = _socket_of(dbapi_connection)
    if sock is None or sock.fileno() < 0:
        return sock is not None
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)
