"""The databases of the test session, as fixtures: `db` runs a test on each backend of TEST_DATABASES.

Each test session creates its own fresh PostgreSQL and MariaDB databases (so parallel runs don't
collide), migrates them with Alembic, and empties the tables between tests. A server that cannot be
reached fails the tests: it never skips them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from invest_dev.scratch_db import create_database, drop_database
from investment_system.db import engine as db_engine
from investment_system.db.base import Base
from investment_system.db.migrate import upgrade
from investment_system.models import *  # noqa: F403 (every table, for the migrations and the emptying)
from investment_system.settings import DatabaseSettings
from tests.support.environment import SCRATCH

SERVER_URLS = {
    "postgres": os.environ.get("TEST_POSTGRES_URL", "postgresql+pg8000://postgres@127.0.0.1:5432/postgres"),
    "mysql": os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql"),
}
BACKENDS = [b.strip() for b in os.environ.get("TEST_DATABASES", "sqlite,postgres,mysql").split(",") if b.strip()]
_SESSION_TAG = uuid.uuid4().hex[:10]
# Reference data the migrations seed (the plan catalogue): kept when tables are emptied between tests.
SEEDED_TABLES = frozenset({"plans"})


def _create_server_database(backend: str) -> str:
    try:
        return create_database(SERVER_URLS[backend], f"invest_test_{_SESSION_TAG}")
    except Exception as error:  # a missing server must fail loudly, never skip
        raise RuntimeError(
            f"{backend} is not reachable at {make_url(SERVER_URLS[backend]).render_as_string()}: {error}. "
            "Start it (see docs/development.md, 'Tests') or narrow TEST_DATABASES."
        ) from error


def _drop_server_database(backend: str, url: str) -> None:
    drop_database(SERVER_URLS[backend], url)


class MigratedDatabase:
    """One migrated database of a backend, shared by the session's tests of that backend."""

    def __init__(self, backend: str, url: str) -> None:
        self.backend = backend
        self.url = url
        self.engine = self.make_engine()
        upgrade(self.engine)

    def make_engine(self, pool_size: int = 10) -> Engine:
        """An engine on this database; race tests want a pool larger than Lambda's one connection."""
        settings = DatabaseSettings(url=self.url)
        if self.backend == "sqlite":
            return db_engine.build_engine(settings)
        return db_engine.build_engine(settings, pool_size=pool_size, max_overflow=pool_size)

    def empty(self) -> None:
        with self.engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name not in SEEDED_TABLES:
                    connection.execute(table.delete())


@pytest.fixture(scope="session")
def databases() -> Iterator[dict[str, MigratedDatabase]]:
    made: dict[str, MigratedDatabase] = {}
    yield made  # filled lazily by _database(); server databases are dropped at session finish
    for database in made.values():
        database.engine.dispose()


_server_urls: dict[str, str] = {}


def _database(databases: dict[str, MigratedDatabase], backend: str) -> MigratedDatabase:
    if backend not in databases:
        if backend == "sqlite":
            url = f"sqlite:///{SCRATCH / 'test.db'}"
        else:
            url = _create_server_database(backend)
            _server_urls[backend] = url
        databases[backend] = MigratedDatabase(backend, url)
    return databases[backend]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    db_engine.dispose_engine()
    for backend, url in _server_urls.items():
        _drop_server_database(backend, url)


def _backend_params(backends: list[str]) -> list[Any]:
    """Fixture parameters for these backends; a server's is marked with its name (`-m "not postgres"`)."""
    return [pytest.param(name, marks=() if name == "sqlite" else getattr(pytest.mark, name)) for name in backends]


@pytest.fixture(params=_backend_params(BACKENDS))
def db(request: pytest.FixtureRequest, databases: dict[str, MigratedDatabase]) -> Iterator[MigratedDatabase]:
    """A clean, migrated database on each configured backend, installed as the container's engine."""
    database = _database(databases, request.param)
    database.empty()
    db_engine.use_engine(database.engine)
    yield database
    db_engine.use_engine(None)


@pytest.fixture(params=_backend_params([backend for backend in BACKENDS if backend != "sqlite"]))
def server_db(request: pytest.FixtureRequest, databases: dict[str, MigratedDatabase]) -> Iterator[MigratedDatabase]:
    """Like `db`, on the database servers only: race tests, where SQLite's single writer proves nothing."""
    database = _database(databases, request.param)
    database.empty()
    db_engine.use_engine(database.engine)
    yield database
    db_engine.use_engine(None)


@pytest.fixture
def sqlite_db(databases: dict[str, MigratedDatabase]) -> Iterator[MigratedDatabase]:
    """A clean, migrated SQLite database installed as the container's engine (service unit tests)."""
    database = _database(databases, "sqlite")
    database.empty()
    db_engine.use_engine(database.engine)
    yield database
    db_engine.use_engine(None)
