"""The one module that knows the database drivers' internals (pg8000, PyMySQL): their connection's socket,
and how pg8000 sends a statement.

A pooled connection the server closed while it sat idle (a terminated backend, RDS Proxy's idle
timeout, a server restart) has its end already waiting in its socket: a goodbye and an EOF. Looking
costs no round trip, so the pool looks at every checkout instead of pinging (db/engine.py). Neither
driver makes its socket public; if an upgrade renames it, `closed_by_server` answers False and the
first statement on a dead connection fails as it would without the look (503, retryable).

pg8000 (1.31) sends a statement with parameters in three round trips: the parse, then its description
and the parameters, then the execution, each waiting for the server's answer. The extended query
protocol allows all of it in one: Parse, Bind, Describe (of the portal: the result's columns), Execute
and Sync, then the answers in order. `connect_sending_statements_whole` makes pg8000 connections that do
so, using the connection's own message writers and reader; every statement with parameters is then one
round trip to RDS Proxy instead of three (docs/benchmarks.md#round-trips measures what it saves). If an
upgrade renames what it uses, connecting fails at once, in every test that touches PostgreSQL.
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
