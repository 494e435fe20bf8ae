"""Round trips per request on PostgreSQL: every route's success path within its statement budget.

Each statement is a network round trip to RDS Proxy, so a request pays for every one: BEGIN, COMMIT
and pings included. The log counts what the pg8000 connection sends (invest_dev.statement_log) during
one warm request (the same kind of request ran once before: the container is warm, its connection
open). Budgets: a read 2 at most (1 without a token check), a write 4, the idempotent create 5.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from invest_dev.statement_log import StatementLog
from tests.support.accounts import PASSWORD, bearer, signed_up, signed_up_admin
from tests.support.billing import CANCEL, CHANGE_PLAN, PLANS, SUBSCRIPTION, USAGE, deliver, payment_event
from tests.support.functions import Reply, invoke
from tests.support.signals import (
    ANALYTICS,
    CLOSE,
    CREATE,
    DELETE,
    GET,
    HISTORY,
    LIST,
    UPDATE,
    Investor,
    buy_body,
    call,
    create,
    make_investor,
)

Request = Callable[[], Reply]


@dataclass(frozen=True)
class Route:
    name: str
    budget: int
    status: int
    prepare: Callable[[], Request]  # makes what the request needs, outside the count; returns the request


def _me(investor: Investor, method: str, path: str, body: object = None) -> Request:
    logical_id = {
        ("GET", "/v1/users/me"): "GetMeFunction",
        ("PATCH", "/v1/users/me"): "UpdateMeFunction",
        ("POST", "/v1/users/me/password"): "ChangePasswordFunction",
        ("POST", "/v1/stream/tickets"): "CreateStreamTicketFunction",
    }[(method, path)]
    return lambda: invoke(logical_id, method, path, json_body=body, headers=investor.headers)


def _investor_with_signal() -> tuple[Investor, str]:
    investor = make_investor()
    return investor, create(investor)["id"]


def _on_signal(route: tuple[str, str, str], body: object = None) -> Callable[[], Request]:
    def prepare() -> Request:
        investor, signal_id = _investor_with_signal()
        return lambda: call(route, investor, signal_id, json_body=body)

    return prepare


def _as_investor_with_signal(route: tuple[str, str, str]) -> Request:
    investor, _ = _investor_with_signal()
    return lambda: call(route, investor)


def _signed_up() -> tuple[dict[str, object], dict[str, str]]:
    user, tokens = signed_up(f"trips-{uuid.uuid4().hex[:10]}@example.com")
    return user, tokens  # type: ignore[return-value]


def _register() -> Request:
    email = f"new-{uuid.uuid4().hex[:10]}@example.com"
    return lambda: invoke(
        "RegisterFunction", "POST", "/v1/auth/register", json_body={"email": email, "password": PASSWORD}
    )


def _login() -> Request:
    user, _ = _signed_up()
    return lambda: invoke(
        "LoginFunction", "POST", "/v1/auth/login", json_body={"email": user["email"], "password": PASSWORD}
    )


def _refresh() -> Request:
    _, tokens = _signed_up()
    body = {"refresh_token": tokens["refresh_token"]}
    return lambda: invoke("RefreshTokenFunction", "POST", "/v1/auth/refresh", json_body=body)


def _logout() -> Request:
    _, tokens = _signed_up()
    body = {"refresh_token": tokens["refresh_token"]}
    return lambda: invoke(
        "LogoutFunction", "POST", "/v1/auth/logout", json_body=body, headers=bearer(tokens["access_token"])
    )


def _change_password() -> Request:
    _, tokens = _signed_up()
    body = {"current_password": PASSWORD, "new_password": "Copper-Meadow-Signal-93"}
    return lambda: invoke(
        "ChangePasswordFunction",
        "POST",
        "/v1/users/me/password",
        json_body=body,
        headers=bearer(tokens["access_token"]),
    )


def _admin_list() -> Request:
    _, tokens = signed_up_admin(f"root-{uuid.uuid4().hex[:10]}@example.com")
    return lambda: invoke("AdminListUsersFunction", "GET", "/v1/admin/users", headers=bearer(tokens["access_token"]))


def _admin_patch() -> Request:
    _, tokens = signed_up_admin(f"root-{uuid.uuid4().hex[:10]}@example.com")
    target = str(make_investor().user_id)
    return lambda: invoke(
        "AdminUpdateUserFunction",
        "PATCH",
        f"/v1/admin/users/{target}",
        route="/v1/admin/users/{user_id}",
        path_parameters={"user_id": target},
        json_body={"role": "admin"},
        headers=bearer(tokens["access_token"]),
    )


def _as_investor(route: tuple[str, str, str], body: object = None, headers: dict[str, str] | None = None) -> Request:
    investor = make_investor()
    return lambda: call(route, investor, json_body=body, headers=headers)


def _as_subscriber(route: tuple[str, str, str], body: object = None) -> Request:
    """As an investor whose subscription exists (a user's first billing request creates it)."""
    investor = make_investor()
    assert call(SUBSCRIPTION, investor).status == 200
    return lambda: call(route, investor, json_body=body)


def _idempotent_create() -> Request:
    return _as_investor(CREATE, buy_body(), {"Idempotency-Key": uuid.uuid4().hex})


def _webhook() -> Request:
    """A failed payment of a user whose subscription exists (as a checkout, the way to pay, creates it)."""
    investor = make_investor()
    assert call(SUBSCRIPTION, investor).status == 200
    body = payment_event("invoice.payment_failed", investor.user_id)
    return lambda: deliver(body)


ROUTES = [
    Route("GET /v1/health", 1, 200, lambda: lambda: invoke("HealthFunction", "GET", "/v1/health")),
    Route("GET /v1/users/me", 1, 200, lambda: _me(make_investor(), "GET", "/v1/users/me")),
    Route("GET /v1/signals/{id}", 2, 200, _on_signal(GET)),
    Route("GET /v1/signals", 2, 200, lambda: _as_investor_with_signal(LIST)),
    Route("GET /v1/signals/analytics", 2, 200, lambda: _as_investor(ANALYTICS)),
    Route("GET /v1/signals/{id}/history", 2, 200, _on_signal(HISTORY)),
    Route("GET /v1/billing/usage", 2, 200, lambda: _as_subscriber(USAGE)),
    Route("GET /v1/billing/subscription", 2, 200, lambda: _as_subscriber(SUBSCRIPTION)),
    Route("GET /v1/billing/plans", 2, 200, lambda: _as_investor(PLANS)),
    Route("GET /v1/admin/users", 2, 200, _admin_list),
    Route("POST /v1/signals", 4, 201, lambda: _as_investor(CREATE, buy_body())),
    Route("POST /v1/signals (Idempotency-Key)", 5, 201, _idempotent_create),
    Route("PATCH /v1/signals/{id}", 4, 200, _on_signal(UPDATE, {"notes": "revised"})),
    Route("POST /v1/signals/{id}/close", 4, 200, _on_signal(CLOSE, {"exit_price": "190"})),
    Route("DELETE /v1/signals/{id}", 4, 204, _on_signal(DELETE)),
    Route("PATCH /v1/users/me", 4, 200, lambda: _me(make_investor(), "PATCH", "/v1/users/me", {"full_name": "A B"})),
    Route("POST /v1/users/me/password", 4, 204, _change_password),
    Route("POST /v1/auth/register", 4, 201, _register),
    Route("POST /v1/auth/login", 4, 200, _login),
    Route("POST /v1/auth/refresh", 4, 200, _refresh),
    Route("POST /v1/auth/logout", 4, 204, _logout),
    Route("PATCH /v1/admin/users/{user_id}", 4, 200, _admin_patch),
    Route("PUT /v1/billing/subscription", 4, 202, lambda: _as_subscriber(CHANGE_PLAN, {"plan": "pro"})),
    Route("DELETE /v1/billing/subscription", 4, 200, lambda: _as_subscriber(CANCEL)),
    Route("POST /v1/billing/webhooks/payments", 4, 200, _webhook),
    Route("POST /v1/stream/tickets", 4, 201, lambda: _me(make_investor(), "POST", "/v1/stream/tickets")),
]


@pytest.fixture
def postgres(db) -> Iterator[StatementLog]:
    """The statement log of the PostgreSQL database the test runs on."""
    log = StatementLog(db.engine)
    yield log
    log.close()


def sent(log: StatementLog, route: Route) -> list[str]:
    """The statements of one warm request of `route`, after one like it."""
    warm_up = route.prepare()
    assert warm_up().status == route.status
    request = route.prepare()
    with log.recording() as statements:
        reply = request()
    assert reply.status == route.status, f"{route.name}: {reply.status} {reply.text}"
    return list(statements)


ON_POSTGRES = pytest.mark.parametrize("db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)


@ON_POSTGRES
@pytest.mark.parametrize("route", ROUTES, ids=[route.name for route in ROUTES])
def test_a_route_sends_no_more_statements_than_its_budget(postgres, route):
    # Given a warm container whose connection is open
    # When the route answers a request successfully
    statements = sent(postgres, route)
    # Then it sent no more statements than its budget
    listing = "\n  ".join(statements)
    assert len(statements) <= route.budget, (
        f"{route.name} sent {len(statements)} statements (budget {route.budget}):\n  {listing}"
    )


@ON_POSTGRES
def test_analytics_kept_is_a_position_read_and_computed_again_after_a_change_one_more(postgres):
    # Given an investor whose analytics are kept in the cache
    investor, signal_id = _investor_with_signal()
    assert call(ANALYTICS, investor).status == 200
    # When they ask again, then change a signal and ask once more
    with postgres.recording() as kept:
        assert call(ANALYTICS, investor).status == 200
    assert call(UPDATE, investor, signal_id, json_body={"notes": "revised"}).status == 200
    with postgres.recording() as computed:
        assert call(ANALYTICS, investor).status == 200
    # Then the kept answer is the token check and the outbox position, one primary-key read; the one
    # computed again after the change reads the position, then the statistics with it in one statement
    assert len(kept) == 2, kept
    assert "user_streams" in kept[1]
    assert "signals" not in kept[1]
    assert len(computed) == 3, computed
    assert "user_streams" in computed[2]
    assert "signals" in computed[2]


@ON_POSTGRES
def test_no_request_pings_or_opens_a_transaction_to_read(postgres):
    # Given a warm container
    investor, signal_id = _investor_with_signal()
    # When it answers token-checked reads
    for request in (lambda: call(GET, investor, signal_id), lambda: call(LIST, investor)):
        request()
        with postgres.recording() as statements:
            assert request().status == 200
        # Then each is its statements alone: no ping, no BEGIN, no COMMIT, the token check reading no password hash
        assert [statement.split()[0] for statement in statements] == ["SELECT", "SELECT"], statements
        assert "password_hash" not in statements[0]
        assert "users.role" in statements[0]


@ON_POSTGRES
def test_a_change_of_a_signal_is_the_token_check_the_read_and_one_write_without_a_transaction(postgres):
    investor, signal_id = _investor_with_signal()
    call(UPDATE, investor, signal_id, json_body={"notes": "first"})
    # When a token-checked change of a signal answers
    with postgres.recording() as statements:
        assert call(UPDATE, investor, signal_id, json_body={"notes": "second"}).status == 200
    # Then it is three statements, none a BEGIN or a COMMIT: the token check (no password hash), the
    # signal's read, and the change with its audit row and stream event, written only while the row is as read
    assert [statement.split()[0] for statement in statements] == ["SELECT", "SELECT", "WITH"], statements
    assert "LEFT OUTER JOIN user_sessions" in statements[0]
    assert "password_hash" not in statements[0]
    assert "FOR UPDATE" not in statements[1]
    assert "signals.version = " in statements[2]
    assert "INSERT INTO audit_events" in statements[2]


@ON_POSTGRES
def test_a_change_that_lost_a_race_is_made_again_with_the_row_locked(postgres, db):
    from sqlalchemy import create_engine, event, text

    investor, signal_id = _investor_with_signal()
    call(UPDATE, investor, signal_id, json_body={"notes": "first"})
    other_client = create_engine(db.url)
    raced: list[str] = []

    def another_change_lands(_conn, _cursor, statement, *_args) -> None:
        if not raced and statement.startswith("SELECT signals.") and "FOR UPDATE" not in statement:
            raced.append(statement)
            with other_client.begin() as connection:
                connection.execute(text("UPDATE signals SET version = version + 1 WHERE id = :id"), {"id": signal_id})

    # Given another client's change lands between this request's read of the signal and its write
    event.listen(db.engine, "after_cursor_execute", another_change_lands)
    try:
        # When the change is asked for without If-Match
        with postgres.recording() as statements:
            reply = call(UPDATE, investor, signal_id, json_body={"notes": "mine"})
    finally:
        event.remove(db.engine, "after_cursor_execute", another_change_lands)
        other_client.dispose()
    # Then it is made all the same, once more with the row locked from its read to its write
    assert raced
    assert reply.status == 200, reply.text
    assert reply.json["notes"] == "mine"
    assert any("FOR UPDATE" in statement for statement in statements), statements
    with db.engine.connect() as connection:
        notes = connection.execute(text("SELECT notes FROM signals WHERE id = :id"), {"id": signal_id}).scalar()
    assert notes == "mine"


@ON_POSTGRES
def test_a_connection_the_server_ended_between_requests_is_replaced_without_an_error(postgres, db):
    # Given a warm container whose connections are open
    investor, signal_id = _investor_with_signal()
    assert call(GET, investor, signal_id).status == 200
    # When the server ends them between two requests (RDS Proxy's idle timeout, a failover, a restart)
    _terminate_backends(db.engine)
    # Then the next read and the next write succeed, on new connections, without a ping
    with postgres.recording() as statements:
        assert call(GET, investor, signal_id).status == 200
        assert call(UPDATE, investor, signal_id, json_body={"notes": "after"}).status == 200
    assert ";" not in statements


@ON_POSTGRES
def test_a_refused_change_of_a_signal_takes_at_most_one_statement_more_than_its_route(postgres):
    investor, signal_id = _investor_with_signal()
    closed = create(investor)["id"]
    assert call(CLOSE, investor, closed, json_body={"exit_price": "190"}).status == 200
    call(UPDATE, investor, signal_id, json_body={"notes": "warm"})
    refusals = {
        412: lambda: call(UPDATE, investor, signal_id, json_body={"notes": "x"}, headers={"If-Match": '"1"'}),
        409: lambda: call(CLOSE, investor, closed, json_body={"exit_price": "190"}),
        404: lambda: call(DELETE, investor, str(uuid.uuid4())),
    }
    for status, request in refusals.items():
        # When a change is refused: a stale If-Match, a signal no longer OPEN, one that does not exist
        with postgres.recording() as statements:
            assert request().status == status
        # Then it sends at most one statement more than a write's budget of 4
        assert len(statements) <= 5, (status, statements)


def _terminate_backends(engine) -> None:
    """End every connection to the test database but the admin's, and wait until they are gone."""
    from sqlalchemy import create_engine, text

    database = engine.url.database
    admin = create_engine(engine.url, isolation_level="AUTOCOMMIT")
    others = "FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"
    try:
        with admin.connect() as connection:
            ended = connection.execute(text(f"SELECT count(pg_terminate_backend(pid)) {others}"), {"db": database})
            assert ended.scalar() > 0
            deadline = time.monotonic() + 10
            while connection.execute(text(f"SELECT count(*) {others}"), {"db": database}).scalar():
                assert time.monotonic() < deadline, "the terminated connections did not end"
                time.sleep(0.05)
    finally:
        admin.dispose()


@ON_POSTGRES
def test_only_a_connection_idle_longer_than_the_setting_is_pinged(db):
    from investment_system.db import engine as db_engine
    from investment_system.settings import DatabaseSettings

    # Given a container whose pool pings a connection idle for longer than two seconds
    engine = db_engine.build_engine(DatabaseSettings(url=db.url, ping_after_idle_seconds=2))
    db_engine.use_engine(engine)
    log = StatementLog(engine)
    try:
        investor, signal_id = _investor_with_signal()
        call(GET, investor, signal_id)
        # When a request follows at once, and another after a longer idle
        with log.recording() as at_once:
            assert call(GET, investor, signal_id).status == 200
        time.sleep(2.5)
        with log.recording() as after_idle:
            assert call(GET, investor, signal_id).status == 200
        # Then only the second pays for a ping
        assert ";" not in at_once, at_once
        assert ";" in after_idle, after_idle
    finally:
        log.close()
        db_engine.use_engine(db.engine)
        engine.dispose()


@ON_POSTGRES
def test_a_connection_changes_no_session_state_that_pins_rds_proxy(postgres, db):
    # When the container opens its connection and serves requests
    with postgres.recording() as statements:
        assert invoke("HealthFunction", "GET", "/v1/health").status == 200
        investor, signal_id = _investor_with_signal()
        assert call(GET, investor, signal_id).status == 200
    # Then no statement set anything for the session (a SET pins the connection to one of the proxy's)
    pinning = [s for s in statements if s.split()[0].upper() in {"SET", "PREPARE", "LISTEN", "DECLARE"}]
    assert not pinning, pinning
    # And the statement timeout and the UTC time zone are in force all the same (the startup message's)
    from sqlalchemy import text

    from investment_system.settings import DatabaseSettings

    with db.engine.connect() as connection:
        timeout = connection.execute(text("SELECT current_setting('statement_timeout')")).scalar()
        zone = connection.execute(text("SELECT current_setting('TimeZone')")).scalar()
    assert (timeout, zone) == (f"{DatabaseSettings().statement_timeout_ms // 1000}s", "UTC")


@ON_POSTGRES
def test_error_paths_take_at_most_one_statement_more_than_their_route(postgres):
    investor, signal_id = _investor_with_signal()
    revoked = make_investor()
    call(GET, investor, signal_id)
    from investment_system.db import unit_of_work
    from investment_system.models import User

    with unit_of_work() as session:  # the token's epoch moves on, as a password change does
        session.get(User, revoked.user_id).token_epoch += 1
    # When a read misses, and a revoked token reads and writes
    with postgres.recording() as missing:
        assert call(GET, investor, str(uuid.uuid4())).status == 404
    with postgres.recording() as refused_read:
        assert call(GET, revoked, signal_id).status == 401
    with postgres.recording() as refused_write:
        assert call(UPDATE, revoked, signal_id, json_body={"notes": "x"}).status == 401
    # Then each sends at most one statement more than its route's budget (a read 2, a write 4)
    assert len(missing) <= 3, missing
    assert len(refused_read) <= 3, refused_read
    assert len(refused_write) <= 5, refused_write
