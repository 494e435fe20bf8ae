"""The SQLAlchemy engine (one per container) and the unit of work every service uses.

SQLite locally (WAL, foreign keys, a busy timeout), PostgreSQL through pg8000 in production (TLS for
RDS / RDS Proxy), MySQL/MariaDB through PyMySQL. A container serves one request at a time, so the
pool holds one pre-pinged, recycled connection. Connecting is retried with backoff; a database that
stays unreachable is `503 DATABASE_UNAVAILABLE` (what counts as that: `investment_system.db.errors`).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Dialect, Engine, Executable, create_engine, event, exc
from sqlalchemy.engine import make_url

from investment_system.db.compat import compile_flush_insert, compile_into_cache
from investment_system.db.errors import mark_disconnects, outage_of
from investment_system.errors import ErrorCode, Unavailable
from investment_system.observability import MetricName, add_metric, logger, timed, traced
from investment_system.settings import DatabaseSettings, get_settings
from investment_system.snapstart import after_restore, before_snapshot

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
        "pool_pre_ping": True,
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
    if backend == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    elif backend == "postgresql":
        event.listen(engine, "connect", _postgres_session_settings(settings.statement_timeout_ms))
    return engine


def _server_connect_args(backend: str, settings: DatabaseSettings) -> dict[str, Any]:
    if backend == "postgresql":
        args: dict[str, Any] = {"timeout": settings.connect_timeout_seconds}
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


def _postgres_session_settings(statement_timeout_ms: int) -> Any:
    def configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")
        cursor.execute("SET TIME ZONE 'UTC'")
        cursor.close()

    return configure


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
    stays: its settings come from environment variables, which a restore does not change."""
    if _engine is not None:
        _engine.dispose(close=False)


def precompile(statements: Callable[[Dialect], Iterable[Executable]]) -> None:
    """Have SnapStart's priming compile `statements(dialect)` into the engine's cache, as executing them
    would, so that a restored container's first request finds their SQL compiled. Statements that differ
    only in their bound values share a cache entry: any values will do. The engine's dialect is given to
    the statements written per dialect (upserts, exact sums). No connection is opened."""
    _primed_statements.append(statements)


def precompile_inserts(rows: Callable[[], Iterable[Any]]) -> None:
    """Have SnapStart's priming compile the INSERT a flush emits for each of `rows()`: new objects made
    as the code that adds them makes them (which attributes are set decides the statement's columns)."""
    _primed_inserts.append(rows)


def compile_primed_statements(engine: Engine) -> None:
    """Compile what `precompile` registered into `engine`'s cache (the last before-snapshot hook).

    SQLite and PostgreSQL only: MySQL's dialect learns at its first connection what changes the SQL it
    compiles (ANSI_QUOTES, MariaDB), and a snapshot is taken before any connection. A statement runs
    with what was compiled here only when executed as it is built: a SELECT through the session, an
    INSERT, UPDATE or DELETE on its connection (`repositories.base.execute_dml`), since the ORM's
    bulk DML adds its options to the statement."""
    if engine.dialect.name not in ("sqlite", "postgresql"):
        return
    for statements in _primed_statements:
        for statement in statements(engine.dialect):
            compile_into_cache(engine, statement)
    for rows in _primed_inserts:
        for row in rows():
            compile_flush_insert(engine, row)


_primed_statements: list[Callable[[Dialect], Iterable[Executable]]] = []
_primed_inserts: list[Callable[[], Iterable[Any]]] = []
before_snapshot(lambda: compile_primed_statements(get_engine()), last=True)
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
    session = _session_factory()()
    committing = False
    try:
        with traced("database"), timed(MetricName.DATABASE_LATENCY):
            _connect(session)
            yield session
            committing = True
            session.commit()
    except BaseException as error:
        _roll_back(session)
        outage = outage_of(error)
        if outage is None:
            raise
        add_metric(MetricName.DATABASE_UNAVAILABLE)
        logger.warning(
            "Database unavailable",
            extra={"outage": outage.value, "error_type": type(getattr(error, "orig", error)).__name__},
        )
        retry_after = None if committing else RETRY_AFTER_SECONDS
        raise Unavailable(ErrorCode.DATABASE_UNAVAILABLE, retry_after=retry_after) from None
    finally:
        session.close()


def _roll_back(session: Session) -> None:
    """Roll back after a failure. On a connection that is gone the server has already dropped the
    transaction, so that rollback's own failure is no news; any other is raised."""
    try:
        session.rollback()
    except exc.DBAPIError as error:
        if outage_of(error) is None:
            raise
