"""The SQLAlchemy engine (one per container) and the unit of work every service uses.

SQLite locally (WAL, foreign keys, a busy timeout), PostgreSQL through pg8000 in production (TLS for
RDS / RDS Proxy), MySQL/MariaDB through PyMySQL. A container serves one request at a time, so the
pool holds one recycled connection, pinged only after a long idle (every statement is a round trip:
docs/benchmarks.md#round-trips). Connecting is retried with backoff; a database that stays unreachable
is `503 DATABASE_UNAVAILABLE` (what counts as that: `investment_system.db.errors`).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Executable, create_engine, event, exc
from sqlalchemy.engine import make_url

from investment_system.db.compat import compile_executions_for
from investment_system.db.drivers import closed_by_server, connect_sending_statements_whole
from investment_system.db.errors import Outage, TransactionConflict, mark_disconnects, outage_of
from investment_system.errors import ErrorCode, Unavailable
from investment_system.observability import MetricName, add_metric, logger, timed, traced
from investment_system.settings import DatabaseSettings, get_settings
from investment_system.snapstart import after_restore, before_snapshot, redo_after_restore

if TYPE_CHECKING:
    # Imported on first use (_session_factory): GET /v1/health, which needs a connection and no
    # session, never pays for sqlalchemy.orm.
    from sqlalchemy.orm import Session, sessionmaker

_engine: Engine | None = None
_sessions: sessionmaker[Session] | None = None
# What a 503 DATABASE_UNAVAILABLE tells a client to wait before it repeats a request that wrote nothing.
RETRY_AFTER_SECONDS = 1


def build_engine(settings: DatabaseSettings, **overrides: Any) -> Engine:
    """A configured engine for these settings; `overrides` go to `create_engine` (tests use them)."""
    url = make_url(settings.url)
    options: dict[str, Any] = {
        "pool_recycle": settings.pool_recycle_seconds,
        "echo": settings.echo,
    }
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"check_same_thread": False, "timeout": settings.connect_timeout_seconds}
    else:
        options.update(pool_size=settings.pool_size, max_overflow=settings.max_overflow, pool_timeout=30)
        options["connect_args"] = _server_connect_args(backend, settings)
    options.update(overrides)
    engine = create_engine(url, **options)
    event.listen(engine, "handle_error", mark_disconnects)
    event.listen(engine, "checkin", _note_idle_since)
    event.listen(engine, "checkout", _discard_if_dead(engine, settings.ping_after_idle_seconds))
    if backend == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    if engine.dialect.driver == "pg8000":
        event.listen(engine, "do_connect", connect_sending_statements_whole)
    return engine


def _note_idle_since(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info["idle_since"] = time.monotonic()


def _discard_if_dead(engine: Engine, ping_after_idle_seconds: float) -> Callable[[Any, Any, Any], None]:
    """Instead of a ping per checkout (a round trip per request): a connection the server closed while it
    sat idle is found without one (`db.drivers.closed_by_server`), and only one idle for longer than
    `ping_after_idle_seconds` is pinged, for an end nothing announced (a dropped network path). Either
    way it is discarded, and the pool hands out a new one."""

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if closed_by_server(dbapi_connection):
            raise exc.DisconnectionError("closed by the server while idle")
        if idle_since is not None and time.monotonic() - idle_since > ping_after_idle_seconds:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except Exception as error:
                raise exc.DisconnectionError("no answer to a ping after a long idle") from error

    return checkout


def _server_connect_args(backend: str, settings: DatabaseSettings) -> dict[str, Any]:
    if backend == "postgresql":
        # In the startup message, not as SET statements: a session-level SET pins the client's connection
        # to one database connection of RDS Proxy (docs/operations.md), and costs a round trip each.
        startup = {"statement_timeout": str(int(settings.statement_timeout_ms)), "TimeZone": "UTC"}
        args: dict[str, Any] = {"timeout": settings.connect_timeout_seconds, "startup_params": startup}
        if settings.ssl:
            args["ssl_context"] = ssl.create_default_context()
        return args
    args = {"connect_timeout": settings.connect_timeout_seconds, "charset": "utf8mb4"}
    if settings.ssl:
        args["ssl"] = {"ssl": ssl.create_default_context()}
    return args


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def get_engine() -> Engine:
    """The container's engine, created on first use."""
    global _engine
    if _engine is None:
        _engine = build_engine(get_settings().database)
    return _engine


def _session_factory() -> sessionmaker[Session]:
    global _sessions
    if _sessions is None:
        from sqlalchemy.orm import sessionmaker

        _sessions = sessionmaker(bind=get_engine(), expire_on_commit=False)
    return _sessions


def use_engine(engine: Engine | None) -> None:
    """Make `engine` the container's engine, or forget it with None (tests); the caller owns its lifetime."""
    global _engine, _sessions
    _engine = engine
    _sessions = None


def dispose_engine() -> None:
    """Close pooled connections and forget the engine (between tests, at the end of a benchmark)."""
    global _engine, _sessions
    if _engine is not None:
        _engine.dispose()
    _engine = None
    _sessions = None


def _restored() -> None:
    """After a SnapStart restore: the snapshot's pooled connection is dead, so the pool is replaced
    without touching it (closing a dead socket could block). The engine, with what priming compiled,
    stays: its settings come from environment variables, which a restore does not change. A replay's
    scratch engine (`replaying`) is kept: its pool is its database."""
    if _engine is not None and _engine is not _scratch:
        _engine.dispose(close=False)


@contextmanager
def replaying() -> Iterator[None]:
    """Before a SnapStart snapshot: the block's units of work run on a scratch in-memory SQLite database
    with the models' tables, never on the container's, and each statement executed there (but inside
    `seeding`) is compiled for the container's engine, into the cache that statement's execution on it
    reads. A request replayed in the block so primes, with the code that serves it, what its first real
    execution would compile. No connection to the container's database is opened. MySQL and MariaDB
    compile nothing: their dialect learns at its first connection what changes the SQL it compiles."""
    global _compiling, _scratch, _real
    from sqlalchemy.pool import StaticPool

    real = get_engine()
    scratch = create_engine("sqlite://", poolclass=StaticPool)
    _create_tables(scratch)
    if real.dialect.name in ("sqlite", "postgresql"):
        compile_for_real = compile_executions_for(real)

        def compile_unless_seeding(*execution: Any) -> None:
            if _compiling:
                compile_for_real(*execution)

        event.listen(scratch, "before_execute", compile_unless_seeding)
    use_engine(scratch)
    _compiling, _scratch, _real = True, scratch, real
    try:
        yield
    finally:
        _compiling, _scratch, _real = False, None, None
        use_engine(real)
        scratch.dispose()


def dialect_name(session: Session) -> str:
    """The dialect a repository writes a statement for, where it chooses one by dialect: its session's
    database's; in a replay (`replaying`), the container's database's, for which the replay compiles
    (SQLite, which runs the statements, ignores their FOR UPDATE and FOR SHARE)."""
    bind = session.get_bind()
    return _real.dialect.name if _real is not None and bind is _scratch else bind.dialect.name


def compiles_only(session: Session, statement: Executable) -> bool:
    """Whether `session` runs a replay's statements (`replaying`), in which `statement`, which its scratch
    SQLite database cannot run (PostgreSQL's data-modifying WITH), is then compiled for the container's
    engine, as running it there would compile it, and not run: the caller runs what SQLite can instead.
    Outside a replay, False: the caller runs it."""
    if _real is None or session.get_bind() is not _scratch:
        return False
    if _compiling and _real.dialect.name in ("sqlite", "postgresql"):
        compile_executions_for(_real)(None, statement, (), {}, {})
    return True


@contextmanager
def seeding() -> Iterator[None]:
    """Inside `replaying`: what the block writes is the state a replayed request finds, compiled for no one.
    What the block leaves in the container's caches is then dropped, as after a restore, so that the
    replayed request reads what a first request would read."""
    global _compiling
    if _scratch is None:  # never the container's database
        raise RuntimeError("seeding() runs inside replaying() only")
    compiling, _compiling = _compiling, False
    _create_tables(_scratch)  # the tables of the models the seed code has just loaded
    try:
        yield
    finally:
        redo_after_restore()
        _compiling = compiling


def _create_tables(scratch: Engine) -> None:
    """The tables of the models loaded so far, without their foreign keys: a function maps only the tables
    it uses, and a key may name one it does not (SQLite checks none of them here anyway)."""
    import sys

    from sqlalchemy.schema import CreateIndex, CreateTable

    base = sys.modules.get("investment_system.db.base")  # (not loaded: the function maps no table)
    with scratch.begin() as connection:
        for table in base.Base.metadata.tables.values() if base is not None else ():
            connection.execute(CreateTable(table, include_foreign_key_constraints=[], if_not_exists=True))
            for index in table.indexes:
                connection.execute(CreateIndex(index, if_not_exists=True))


_compiling = False
_scratch: Engine | None = None  # a replay's engine, and the container's it compiles for
_real: Engine | None = None
before_snapshot(get_engine)  # the engine and its dialect, without a connection
after_restore(_restored)


def _connect(session: Session) -> None:
    settings = get_settings().database
    for attempt in range(settings.connect_retries + 1):
        try:
            session.connection()
            return
        except Exception as error:
            if outage_of(error) is None or attempt == settings.connect_retries:
                raise
            session.rollback()
            time.sleep(settings.retry_backoff_seconds * (2**attempt))


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back when it raises.

    Multi-row changes made in one block land together or not at all. A database outage, wherever in
    the block it strikes, becomes `503 DATABASE_UNAVAILABLE`; retryable after RETRY_AFTER_SECONDS when
    it struck before the commit was sent, since nothing was written and the request is safe to repeat.
    When the commit itself fails, its outcome is unknown, and only an Idempotency-Key makes a repeat safe.
    """
    with _unit(single_statement=False) as session:
        yield session


@contextmanager
def single_statement_write() -> Iterator[Session]:
    """A write that PostgreSQL makes in one statement (a data-modifying WITH: repositories/stream/recorded.py):
    there the statement runs on its own, which is a transaction of its own without BEGIN and COMMIT, one
    round trip in all; elsewhere, where the same write takes several statements, it is a `unit_of_work`.
    Once the block has sent its statement, an outage leaves its outcome unknown, as a failed commit does."""
    with _unit(single_statement=True) as session:
        yield session


@contextmanager
def _unit(*, single_statement: bool) -> Iterator[Session]:
    session = _session_factory()()
    committing = False
    try:
        with traced("database"), timed(MetricName.DATABASE_LATENCY):
            _connect(session)
            with _autocommit(session.connection()) if single_statement else nullcontext():
                committing = one_statement = single_statement and autocommitting(session)
                yield session
                committing = True
                if one_statement:
                    session.flush()  # what the ORM holds yet (nothing, as a rule): committed as it is sent
                else:
                    session.commit()
    except BaseException as error:
        _roll_back(session)
        if outage_of(error) is None:
            raise
        raise _unavailable(error, committing) from None
    finally:
        session.close()


def autocommitting(session: Session) -> bool:
    """Whether each statement of `session` commits as it runs (`read_only`, and `single_statement_write` on
    PostgreSQL): what is to follow a commit may follow the statement."""
    if session.get_bind().dialect.driver != "pg8000":  # (`_autocommit` sets no other driver's)
        return False
    return getattr(session.connection().connection.dbapi_connection, "autocommit", False) is True


@contextmanager
def read_only() -> Iterator[Session]:
    """Reads that change nothing. On PostgreSQL each statement runs on its own (the driver's autocommit):
    no BEGIN and no COMMIT, a read of one statement is one round trip; elsewhere a transaction rolled
    back at the end. An outage is `503 DATABASE_UNAVAILABLE`, always retryable: nothing was written."""
    session = _session_factory()()
    try:
        with traced("database"), timed(MetricName.DATABASE_LATENCY):
            _connect(session)
            with _autocommit(session.connection()):
                yield session
    except BaseException as error:
        _roll_back(session)
        if outage_of(error) is None:
            raise
        raise _unavailable(error, committing=False) from None
    finally:
        session.close()


@contextmanager
def read_only_connection() -> Iterator[Connection]:
    """A pooled connection for Core reads, autocommitting like `read_only` (the health probe: no ORM)."""
    with get_engine().connect() as connection, _autocommit(connection):
        yield connection


@contextmanager
def _autocommit(connection: Connection) -> Iterator[None]:
    """pg8000's autocommit for the block (its documented `autocommit` attribute: setting it sends nothing
    and pins no RDS Proxy connection), its transactions again before the pool gets it back. The block's
    end rolls back, which pg8000 sends only inside a transaction, where a COMMIT it would always send."""
    dbapi_connection = connection.connection.dbapi_connection
    if connection.dialect.driver != "pg8000" or dbapi_connection is None:
        yield
        return
    dbapi_connection.autocommit = True
    try:
        yield
    finally:
        dbapi_connection.autocommit = False


def _unavailable(error: BaseException, committing: bool) -> Unavailable:
    outage = outage_of(error)
    add_metric(MetricName.DATABASE_UNAVAILABLE)
    logger.warning(
        "Database unavailable",
        extra={"outage": outage.value if outage else None, "error_type": type(getattr(error, "orig", error)).__name__},
    )
    retry_after = None if committing else RETRY_AFTER_SECONDS
    if outage is Outage.CONFLICT:
        return TransactionConflict(ErrorCode.DATABASE_UNAVAILABLE, retry_after=retry_after)
    return Unavailable(ErrorCode.DATABASE_UNAVAILABLE, retry_after=retry_after)


def _roll_back(session: Session) -> None:
    """Roll back after a failure. On a connection that is gone the server has already dropped the
    transaction, so that rollback's own failure is no news; any other is raised."""
    try:
        session.rollback()
    except exc.DBAPIError as error:
        if outage_of(error) is None:
            raise
