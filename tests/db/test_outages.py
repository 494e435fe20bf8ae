"""Database failures classified by what they mean, on each driver: an outage (503, retry) or not.

Every driver error below is built the way the driver raises it (pg8000: the server's ErrorResponse
fields; PyMySQL: error number and message, socket errors as context; sqlite3: real failures), then
wrapped as SQLAlchemy wraps it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock

import pg8000
import pymysql
import pytest
from sqlalchemy import exc, text
from sqlalchemy.orm import Session

from investment_system.db import unit_of_work, use_engine
from investment_system.db.engine import RETRY_AFTER_SECONDS, build_engine
from investment_system.db.errors import Outage, mark_disconnects, outage_of
from investment_system.errors import ErrorCode, Unavailable
from investment_system.settings import DatabaseSettings
from tests.support.signals import make_investor


def wrapped(driver_error: BaseException, base: type[BaseException], *, invalidated: bool = False) -> exc.DBAPIError:
    """The error as SQLAlchemy raises it from a statement."""
    error = exc.DBAPIError.instance("SELECT 1", {}, driver_error, base, connection_invalidated=invalidated)
    assert isinstance(error, exc.DBAPIError)
    return error


def raised_from(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error


def raised_while(error: BaseException, context: BaseException) -> BaseException:
    error.__context__ = context
    return error


def postgres(sqlstate: str, message: str, severity: str = "FATAL") -> BaseException:
    """What pg8000 raises for a server ErrorResponse: DatabaseError on connect, ProgrammingError from a cursor."""
    fields = {"S": severity, "V": severity, "C": sqlstate, "M": message}
    return pg8000.ProgrammingError(fields)


def mysql(number: int, message: str) -> BaseException:
    return pymysql.err.OperationalError(number, message)


PG, MY = pg8000.Error, pymysql.err.MySQLError

OUTAGES: list[tuple[str, Outage, Callable[[], exc.DBAPIError]]] = [
    # PostgreSQL (pg8000)
    ("pg 08006 connection failure", Outage.CONNECTION, lambda: wrapped(postgres("08006", "connection failure"), PG)),
    ("pg 08001 cannot connect", Outage.CONNECTION, lambda: wrapped(postgres("08001", "could not connect"), PG)),
    (
        "pg refused",
        Outage.CONNECTION,
        lambda: wrapped(raised_from(pg8000.InterfaceError("Can't create a connection"), ConnectionRefusedError()), PG),
    ),
    (
        "pg connect timeout",
        Outage.CONNECTION,
        lambda: wrapped(raised_from(pg8000.InterfaceError("x"), TimeoutError()), PG),
    ),
    ("pg 53300 too many connections", Outage.RESOURCES, lambda: wrapped(postgres("53300", "too many clients"), PG)),
    ("pg 53100 disk full", Outage.RESOURCES, lambda: wrapped(postgres("53100", "disk full", "ERROR"), PG)),
    ("pg 53200 out of memory", Outage.RESOURCES, lambda: wrapped(postgres("53200", "out of memory", "ERROR"), PG)),
    ("pg 57P01 admin shutdown", Outage.SHUTDOWN, lambda: wrapped(postgres("57P01", "terminating connection"), PG)),
    ("pg 57P02 crash shutdown", Outage.SHUTDOWN, lambda: wrapped(postgres("57P02", "crash of another process"), PG)),
    (
        "pg 57P03 shutting down",
        Outage.SHUTDOWN,
        lambda: wrapped(
            pg8000.DatabaseError({"S": "FATAL", "C": "57P03", "M": "the database system is shutting down"}), PG
        ),
    ),
    (
        "pg 57P03 starting up",
        Outage.SHUTDOWN,
        lambda: wrapped(postgres("57P03", "the database system is starting up"), PG),
    ),
    (
        "pg connection reset",
        Outage.RESET,
        lambda: wrapped(raised_from(pg8000.InterfaceError("network error"), ConnectionResetError(104, "reset")), PG),
    ),
    (
        "pg broken pipe",
        Outage.RESET,
        lambda: wrapped(raised_from(pg8000.InterfaceError("network error"), BrokenPipeError(32, "pipe")), PG),
    ),
    (
        "pg pool invalidated",
        Outage.INVALIDATED,
        lambda: wrapped(pg8000.InterfaceError("connection is closed"), PG, invalidated=True),
    ),
    ("pg 40P01 deadlock", Outage.CONFLICT, lambda: wrapped(postgres("40P01", "deadlock detected", "ERROR"), PG)),
    ("pg 40001 serialization", Outage.CONFLICT, lambda: wrapped(postgres("40001", "could not serialize", "ERROR"), PG)),
    # MySQL / MariaDB (PyMySQL)
    ("mysql 2003 cannot connect", Outage.CONNECTION, lambda: wrapped(mysql(2003, "Can't connect to MySQL server"), MY)),
    ("mysql 2006 gone away", Outage.CONNECTION, lambda: wrapped(mysql(2006, "MySQL server has gone away"), MY)),
    ("mysql 2013 lost", Outage.CONNECTION, lambda: wrapped(mysql(2013, "Lost connection to MySQL server"), MY)),
    ("mysql 1040 too many connections", Outage.RESOURCES, lambda: wrapped(mysql(1040, "Too many connections"), MY)),
    ("mysql 1021 disk full", Outage.RESOURCES, lambda: wrapped(mysql(1021, "Disk full"), MY)),
    ("mysql 1213 deadlock", Outage.CONFLICT, lambda: wrapped(mysql(1213, "Deadlock found"), MY)),
    ("mysql 1205 lock wait timeout", Outage.CONFLICT, lambda: wrapped(mysql(1205, "Lock wait timeout"), MY)),
    ("mysql 1053 shutdown", Outage.SHUTDOWN, lambda: wrapped(mysql(1053, "Server shutdown in progress"), MY)),
    ("mariadb 1927 killed", Outage.SHUTDOWN, lambda: wrapped(mysql(1927, "Connection was killed"), MY)),
    (
        "mysql connection reset",
        Outage.RESET,
        lambda: wrapped(raised_while(mysql(2013, "Lost connection during query"), ConnectionResetError(104, "x")), MY),
    ),
    (
        "mysql pool invalidated",
        Outage.INVALIDATED,
        lambda: wrapped(pymysql.err.InterfaceError(0, ""), MY, invalidated=True),
    ),
]

NOT_OUTAGES: list[tuple[str, Callable[[], exc.DBAPIError]]] = [
    ("pg 23505 unique violation", lambda: wrapped(postgres("23505", "duplicate key", "ERROR"), PG)),
    ("pg 42601 syntax error", lambda: wrapped(postgres("42601", "syntax error", "ERROR"), PG)),
    ("pg 57014 statement timeout", lambda: wrapped(postgres("57014", "canceling statement", "ERROR"), PG)),
    ("mysql 1062 duplicate", lambda: wrapped(pymysql.err.IntegrityError(1062, "Duplicate entry"), MY)),
    ("mysql 1064 syntax", lambda: wrapped(pymysql.err.ProgrammingError(1064, "You have an error"), MY)),
]


@pytest.mark.parametrize(("case", "outage", "error"), OUTAGES, ids=[case for case, _, _ in OUTAGES])
def test_server_driver_failures_that_mean_an_outage_are_classified_by_meaning(case, outage, error):
    assert outage_of(error()) is outage


@pytest.mark.parametrize(("case", "error"), NOT_OUTAGES, ids=[case for case, _ in NOT_OUTAGES])
def test_failures_of_the_request_or_the_code_are_no_outage(case, error):
    assert outage_of(error()) is None


def sqlite_error(action: Callable[[], object]) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as raised:
        action()
    return raised.value


def test_sqlite_cannot_open_is_a_connection_outage(tmp_path: Path):
    # Given a database file whose directory does not exist
    error = sqlite_error(lambda: sqlite3.connect(tmp_path / "missing" / "x.db").execute("SELECT 1"))
    # Then it is a connection outage
    assert outage_of(wrapped(error, sqlite3.Error)) is Outage.CONNECTION


def test_sqlite_write_lock_held_past_the_busy_timeout_is_a_resource_outage(tmp_path: Path):
    # Given another connection holding the write lock
    holder = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    # When a write waits no longer than its busy timeout
    waiter = sqlite3.connect(tmp_path / "x.db", timeout=0, isolation_level=None)
    error = sqlite_error(lambda: waiter.execute("INSERT INTO t VALUES (1)"))
    holder.rollback()
    # Then the database is "busy": try again shortly
    assert outage_of(wrapped(error, sqlite3.Error)) is Outage.RESOURCES


def test_sqlite_disk_full_is_a_resource_outage():
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode, error.sqlite_errorname = 13, "SQLITE_FULL"
    assert outage_of(wrapped(error, sqlite3.Error)) is Outage.RESOURCES


def test_sqlite_closed_connection_invalidated_by_the_pool_is_an_outage(tmp_path: Path):
    closed = sqlite3.connect(tmp_path / "x.db")
    closed.close()
    error = sqlite_error(lambda: closed.execute("SELECT 1"))
    assert outage_of(wrapped(error, sqlite3.Error, invalidated=True)) is Outage.INVALIDATED


def test_sqlite_errors_of_the_statement_are_no_outage(tmp_path: Path):
    connection = sqlite3.connect(tmp_path / "x.db")
    missing_table = sqlite_error(lambda: connection.execute("SELECT * FROM nowhere"))
    connection.execute("CREATE TABLE t (x INTEGER UNIQUE)")
    connection.execute("INSERT INTO t VALUES (1)")
    duplicate = sqlite_error(lambda: connection.execute("INSERT INTO t VALUES (1)"))
    assert outage_of(wrapped(missing_table, sqlite3.Error)) is None
    assert outage_of(wrapped(duplicate, sqlite3.Error)) is None


def test_socket_errors_pg8000_lets_through_while_connecting_are_outages():
    # pg8000's SSL request on a server shutting down: the bare socket error, not wrapped by SQLAlchemy
    assert outage_of(ConnectionResetError(104, "Connection reset by peer")) is Outage.RESET
    assert outage_of(ConnectionRefusedError(111, "Connection refused")) is Outage.CONNECTION
    assert outage_of(TimeoutError("timed out")) is Outage.CONNECTION


def test_other_errors_are_no_outage():
    assert outage_of(FileNotFoundError(2, "No such file")) is None
    assert outage_of(RuntimeError(2003)) is None


@pytest.mark.parametrize(
    ("driver_error", "disconnect"),
    [
        (postgres("57P01", "terminating connection due to administrator command"), True),
        (postgres("08006", "connection failure"), True),
        (raised_while(mysql(2013, "Lost connection"), ConnectionResetError()), True),
        (postgres("53100", "disk full", "ERROR"), False),  # the connection itself is fine
        (postgres("23505", "duplicate key", "ERROR"), False),
    ],
)
def test_failures_that_leave_the_connection_unusable_are_reported_to_sqlalchemy_as_disconnects(
    driver_error, disconnect
):
    # Given SQLAlchemy's error context, where its dialect saw no disconnect
    context = mock.Mock(original_exception=driver_error, is_disconnect=False)
    # When the listener sees it
    mark_disconnects(context)
    # Then the connection (and the pool) is invalidated exactly when the connection is gone
    assert context.is_disconnect is disconnect


@pytest.fixture
def sqlite_engine(tmp_path: Path):
    engine = build_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'uow.db'}"))
    use_engine(engine)
    yield engine
    use_engine(None)
    engine.dispose()


def busy_error() -> exc.OperationalError:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode, error.sqlite_errorname = 5, "SQLITE_BUSY"
    return exc.OperationalError("INSERT", {}, error)


def fail_midway() -> None:
    with unit_of_work() as session:
        session.execute(text("SELECT 1"))
        raise busy_error()


def test_an_outage_before_the_commit_is_503_with_retry_after(sqlite_engine):
    # When the database fails during the unit of work, before anything was committed
    with pytest.raises(Unavailable) as failure:
        fail_midway()
    # Then it is 503 DATABASE_UNAVAILABLE, and safe to repeat after Retry-After
    assert failure.value.code is ErrorCode.DATABASE_UNAVAILABLE
    assert failure.value.retry_after == RETRY_AFTER_SECONDS


def test_an_outage_during_the_commit_is_503_without_retry_after(sqlite_engine):
    # When the commit itself fails (whether it was applied is unknown)
    with (
        mock.patch.object(Session, "commit", side_effect=busy_error()),
        pytest.raises(Unavailable) as failure,
        unit_of_work() as session,
    ):
        session.execute(text("SELECT 1"))
    # Then it is 503, but nothing tells the client that repeating it is safe
    assert failure.value.code is ErrorCode.DATABASE_UNAVAILABLE
    assert failure.value.retry_after is None


def test_a_rollback_that_fails_on_a_dead_connection_does_not_hide_the_outage(sqlite_engine):
    # Given a connection that is gone: the rollback after the failure fails too
    with mock.patch.object(Session, "rollback", side_effect=busy_error()), pytest.raises(Unavailable) as failure:
        fail_midway()
    # Then the client still gets the outage
    assert failure.value.code is ErrorCode.DATABASE_UNAVAILABLE


def test_a_bare_socket_error_while_connecting_is_503_with_retry_after(sqlite_engine):
    # Given a connection attempt that the server resets (pg8000 raises it unwrapped)
    with (
        mock.patch.object(Session, "connection", side_effect=ConnectionResetError(104, "reset")),
        pytest.raises(Unavailable) as failure,
        unit_of_work(),
    ):
        pass
    # Then it is the outage, retried first, and safe to repeat
    assert failure.value.code is ErrorCode.DATABASE_UNAVAILABLE
    assert failure.value.retry_after == RETRY_AFTER_SECONDS


def test_failures_that_are_no_outage_pass_through_the_unit_of_work(sqlite_engine):
    with pytest.raises(exc.OperationalError), unit_of_work() as session:
        session.execute(text("SELECT * FROM nowhere"))


def test_a_deadlock_between_two_changes_is_a_retryable_503_and_the_other_change_lands(server_db):
    # Given two users, and two units of work that each change one, then the other, in opposite orders
    first, second = make_investor().user_id, make_investor().user_id
    both_hold_one = threading.Barrier(2, timeout=30)

    def change(one: object, other: object) -> str:
        try:
            with unit_of_work() as session:
                rename = text("UPDATE users SET full_name = 'changed' WHERE id = :id")
                session.execute(rename, {"id": one})
                both_hold_one.wait()
                session.execute(rename, {"id": other})
        except Unavailable as error:
            return f"{type(error).__name__} {error.code} {error.retry_after}"
        return "committed"

    # When they run at once, and deadlock
    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(change, (first, second), (second, first)))
    # Then the one the database rolled back is 503 DATABASE_UNAVAILABLE, safe to repeat; the other committed
    assert outcomes == ["TransactionConflict DATABASE_UNAVAILABLE " + str(RETRY_AFTER_SECONDS), "committed"]
