"""What a database failure means: an outage (503 DATABASE_UNAVAILABLE, retry later) or not.

Drivers report one event in different ways (pg8000 a server shutting down as a ProgrammingError,
PyMySQL a lost server as an OperationalError with a number, sqlite3 a result code), so failures are
classified by what they mean, never by exception class: the `Outage` kinds below, from SQLSTATEs,
error numbers, result codes and socket errors (docs/load-testing.md). CONNECTION, SHUTDOWN and RESET
leave the connection unusable: `mark_disconnects` (an engine `handle_error` listener) has SQLAlchemy
invalidate the pool, so the next checkout connects anew and no dead connection is handed out once the
server is back (one that died while idle is seen at checkout: db/engine.py).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import exc

from investment_system.errors import Unavailable

if TYPE_CHECKING:
    from sqlalchemy.engine import ExceptionContext


class Outage(StrEnum):
    CONNECTION = "connection"
    RESOURCES = "insufficient_resources"
    SHUTDOWN = "shutting_down"
    RESET = "connection_reset"
    INVALIDATED = "pool_invalidated"
    # The server ended the transaction to break a deadlock or a serialization conflict with another one:
    # nothing of it was written, the connection stays usable, and the same work done again succeeds.
    CONFLICT = "transaction_conflict"


class TransactionConflict(Unavailable):
    """503 DATABASE_UNAVAILABLE for a CONFLICT: the database rolled the transaction back to break a deadlock
    with another, so nothing was written and the same work done again succeeds (a request is told to
    retry; a job may retry at once)."""


_UNUSABLE = frozenset({Outage.CONNECTION, Outage.SHUTDOWN, Outage.RESET})

_POSTGRES_CODES = {
    **dict.fromkeys(("57P01", "57P02", "57P03"), Outage.SHUTDOWN),
    **dict.fromkeys(("40001", "40P01"), Outage.CONFLICT),
}
_POSTGRES_CLASSES = {"08": Outage.CONNECTION, "53": Outage.RESOURCES}
_MYSQL_ERRORS = {
    **dict.fromkeys(
        (2002, 2003, 2006, 2013, 2055, 1042, 1043, 1081, 1152, 1158, 1159, 1160, 1161, 1184), Outage.CONNECTION
    ),
    **dict.fromkeys((1021, 1037, 1038, 1040, 1041, 1203), Outage.RESOURCES),
    **dict.fromkeys((1053, 1077, 1078, 1079, 1927, 3169), Outage.SHUTDOWN),
    **dict.fromkeys((1205, 1213), Outage.CONFLICT),  # lock wait timeout, deadlock: InnoDB rolled back
}
# SQLite's primary result codes (sqlite3 is not imported for them: the servers' functions never load it).
_SQLITE_RESULTS = {
    14: Outage.CONNECTION,  # SQLITE_CANTOPEN
    **dict.fromkeys((5, 6, 7, 10, 13), Outage.RESOURCES),  # SQLITE_BUSY, _LOCKED, _NOMEM, _IOERR, _FULL
}


def outage_of(error: BaseException) -> Outage | None:
    """The outage a database error raised by SQLAlchemy reports; None for any other failure.

    A bare socket error counts too: pg8000 lets those of its connection set-up through unwrapped
    (a reset while the server shuts down), so SQLAlchemy never sees a DBAPI error to wrap."""
    if isinstance(error, ConnectionError | TimeoutError):
        return _driver_outage(error)
    if not isinstance(error, exc.DBAPIError):
        return None
    outage = _driver_outage(error.orig) if isinstance(error.orig, BaseException) else None
    if outage is None and error.connection_invalidated:
        return Outage.INVALIDATED
    return outage


def _driver_outage(error: BaseException) -> Outage | None:
    for cause in _chain(error):
        if isinstance(cause, ConnectionError) and not isinstance(cause, ConnectionRefusedError):
            return Outage.RESET  # reset, aborted, broken pipe
        if isinstance(cause, OSError):
            return Outage.CONNECTION  # refused, timed out, unreachable, unknown host
    sqlite_result = getattr(error, "sqlite_errorcode", None)  # sqlite3: the extended result code
    if isinstance(sqlite_result, int):
        return _SQLITE_RESULTS.get(sqlite_result & 0xFF)
    first = error.args[0] if error.args else None
    if isinstance(first, dict):  # pg8000: the server's ErrorResponse fields, "C" being the SQLSTATE
        sqlstate = str(first.get("C", ""))
        return _POSTGRES_CODES.get(sqlstate) or _POSTGRES_CLASSES.get(sqlstate[:2])
    if isinstance(first, int):  # PyMySQL: (error number, message)
        return _MYSQL_ERRORS.get(first)
    return None


def _chain(error: BaseException) -> list[BaseException]:
    """`error` and what it was raised from or while handling, as a traceback shows them (drivers wrap
    socket errors)."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return seen


def mark_disconnects(context: ExceptionContext) -> None:
    """`handle_error` listener: a driver error that leaves the connection unusable is a disconnect."""
    if not context.is_disconnect and _driver_outage(context.original_exception) in _UNUSABLE:
        context.is_disconnect = True
