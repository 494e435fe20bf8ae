"""The one module that knows the database drivers' internals: their connection's socket, pg8000's messages.

A pooled connection the server closed while it sat idle has its end already waiting in its socket: looking
costs no round trip, so the pool looks at every checkout instead of pinging (db/engine.py); if an upgrade
renames the socket, `closed_by_server` answers False and a dead connection fails its first statement (503).
pg8000 (1.31) sends a statement with parameters in three round trips (parse; describe and bind; execute);
`connect_sending_statements_whole` sends the same messages in one (docs/operations.md, what it saves in
docs/benchmarks.md#round-trips). If an upgrade renames what it uses, every PostgreSQL test fails at once.
"""

from __future__ import annotations

import select
import socket
from functools import cache
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


def connect_sending_statements_whole(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    """An engine's `do_connect` for pg8000: its connection, sending each statement in one round trip."""
    return _whole_statement_connection()(*cargs, **cparams)


@cache
def _whole_statement_connection() -> type:
    # Imported here: SQLite runs never load pg8000.
    from pg8000 import core
    from pg8000.legacy import Connection

    class WholeStatementConnection(Connection):  # type: ignore[misc]
        def execute_unnamed(self, statement: str, vals: Any = (), oids: Any = (), stream: Any = None) -> Any:
            context = core.Context(statement, stream=stream)
            params = core.make_params(self.py_types, vals)  # (a value it cannot send fails before anything is)
            self.send_PARSE(core.NULL_BYTE, statement, oids)
            self.send_BIND(core.NULL_BYTE, params)
            self._send_message(core.DESCRIBE, core.PORTAL + core.NULL_BYTE)
            self.send_EXECUTE()
            core._write(self._sock, core.SYNC_MSG)
            core._flush(self._sock)
            self.handle_messages(context)
            return context

    return WholeStatementConnection
