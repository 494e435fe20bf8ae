"""The database layer on SQLite, PostgreSQL and MariaDB: transactions, types, migrations, outages."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from investment_system.db import unit_of_work, use_engine
from investment_system.db.base import Base
from investment_system.db.engine import build_engine
from investment_system.db.migrate import current_revision, upgrade
from investment_system.errors import ErrorCode, Unavailable
from investment_system.models import User
from investment_system.settings import DatabaseSettings
from tests.support.functions import invoke
from tests.support.tcp_proxy import TcpProxy


def make_user(email: str) -> User:
    return User(email=email, password_hash="x", role="user", is_active=True, failed_login_count=0)


def test_unit_of_work_commits_every_row_together(db):
    with unit_of_work() as session:
        session.add_all([make_user("a@example.com"), make_user("b@example.com")])
    with unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 2


def test_a_failure_midway_leaves_nothing_half_written(db):
    # Given a change of two rows where the second fails
    def write_then_fail() -> None:
        with unit_of_work() as session:
            session.add(make_user("first@example.com"))
            session.flush()
            raise RuntimeError("second write failed")

    with pytest.raises(RuntimeError):
        write_then_fail()
    # Then neither row is stored
    with unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_unique_email_is_enforced_by_the_database(db):
    with unit_of_work() as session:
        session.add(make_user("same@example.com"))

    def add_duplicate() -> None:
        with unit_of_work() as session:
            session.add(make_user("same@example.com"))

    with pytest.raises(IntegrityError):
        add_duplicate()


def test_timestamps_round_trip_as_aware_utc_with_microseconds(db):
    moment = datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)
    user = make_user("time@example.com")
    user.locked_until = moment
    with unit_of_work() as session:
        session.add(user)
    with unit_of_work() as session:
        stored = session.scalars(select(User)).one()
    assert stored.locked_until == moment
    assert stored.locked_until.tzinfo is not None
    assert isinstance(stored.id, uuid.UUID)


def test_migrations_reach_head_and_are_idempotent(db):
    head = current_revision(db.engine)
    upgrade(db.engine)
    assert current_revision(db.engine) == head
    with db.engine.connect() as connection:
        tables = {t.name for t in Base.metadata.sorted_tables}
        for table in tables:
            connection.execute(text(f"SELECT COUNT(*) FROM {table}"))  # noqa: S608 (names from metadata)


SERVERS = {"postgres": 5432, "mysql": 3306}


def ping() -> None:
    with unit_of_work() as session:
        session.execute(text("SELECT 1"))


@pytest.mark.parametrize("backend", [pytest.param(name, marks=getattr(pytest.mark, name)) for name in sorted(SERVERS)])
def test_database_outage_gives_503_and_the_next_request_after_recovery_succeeds(backend, databases):
    # Given the functions' engine connected to the database through a proxy we can cut
    from tests.support.databases import _database

    real = _database(databases, backend)
    proxy = TcpProxy("127.0.0.1", SERVERS[backend])
    proxy.start()
    url = make_url(real.url).set(port=proxy.port).render_as_string(hide_password=False)
    engine = build_engine(
        DatabaseSettings(url=url, connect_timeout_seconds=2, connect_retries=1, retry_backoff_seconds=0.05)
    )
    use_engine(engine)
    try:
        assert invoke("HealthFunction", "GET", "/v1/health").status == 200
        # When the database goes away (its connections cut, new ones refused)
        proxy.stop()
        down = invoke("HealthFunction", "GET", "/v1/health")
        with pytest.raises(Unavailable) as failure:
            ping()
        # Then health is 503 unhealthy and services raise DATABASE_UNAVAILABLE
        assert down.status == 503
        assert down.json["status"] == "unhealthy"
        assert down.json["dependencies"]["database"]["status"] == "down"
        assert failure.value.code is ErrorCode.DATABASE_UNAVAILABLE
        # When it comes back, the very next request succeeds with the same engine (no restart)
        proxy.start()
        assert invoke("HealthFunction", "GET", "/v1/health").status == 200
    finally:
        proxy.stop()
        use_engine(None)
        engine.dispose()


@pytest.mark.parametrize("backend", [pytest.param(name, marks=getattr(pytest.mark, name)) for name in sorted(SERVERS)])
def test_an_outage_met_by_a_protected_route_is_503_with_retry_after(backend, databases):
    # Given a signed-in investor, the functions' engine behind a proxy we can cut
    from tests.support.databases import _database
    from tests.support.signals import CREATE, LIST, buy_body, call, make_investor

    real = _database(databases, backend)
    proxy = TcpProxy("127.0.0.1", SERVERS[backend])
    proxy.start()
    url = make_url(real.url).set(port=proxy.port).render_as_string(hide_password=False)
    engine = build_engine(DatabaseSettings(url=url, connect_timeout_seconds=2, connect_retries=1))
    use_engine(engine)
    try:
        investor, newcomer = make_investor(), make_investor()
        assert call(LIST, investor).status == 200  # the rate-limit guard now knows its plan's limit
        # When the database goes away, its pooled connection cut under it
        proxy.stop()
        # Then the routes answer 503, safe to retry: where the `authenticated` dependency meets the
        # outage, and where the rate-limit guard does (looking up the newcomer's plan)
        replies = [call(LIST, investor), call(CREATE, investor, json_body=buy_body()), call(LIST, newcomer)]
        for reply in replies:
            assert reply.status == 503, reply.text
            assert reply.json["error"]["code"] == "DATABASE_UNAVAILABLE"
            assert reply.headers["Retry-After"] == "1"
        # And once it is back, the same engine answers again
        proxy.start()
        assert call(CREATE, investor, json_body=buy_body()).status == 201
    finally:
        proxy.stop()
        use_engine(None)
        engine.dispose()


@pytest.mark.postgres
def test_server_side_killed_connection_is_replaced_transparently(databases):
    # Given a pooled PostgreSQL connection
    from tests.support.databases import _database

    real = _database(databases, "postgres")
    engine = build_engine(DatabaseSettings(url=real.url))
    use_engine(engine)
    try:
        with unit_of_work() as session:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        # When the server kills it
        with real.engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})  # waits until it is gone
            admin.commit()
        # Then the next unit of work gets a fresh connection and succeeds
        with unit_of_work() as session:
            assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        use_engine(None)
        engine.dispose()
