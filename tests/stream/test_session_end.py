"""A session that ends, ends on the stream too (issue 23, item 1), on SQLite, PostgreSQL and MariaDB.

Each ending (logout, password change, deactivation, role change, refresh-token reuse) runs through its
function, with a live connection and an unused ticket of the ending session, and a connection of
another session of the same user. The delivery function, invoked with what the ending asked for,
closes the ended session's connections with their last error frame and sends them nothing committed
after the ending; the unused ticket is refused at the handshake. The Management API is faked
(tests/support/stream.py); tests/stream/test_gateway.py does the same over WebSockets.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from invest_dev.events import LambdaContextStub, websocket_event
from invest_dev.samples import unlimited_quota
from investment_system.db import unit_of_work
from investment_system.errors import ErrorCode
from investment_system.models import StreamTicket
from investment_system.schemas.signals import SignalCreate
from investment_system.services.signals.lifecycle import create_signal
from investment_system.services.signals.quota import create_signal_within_quota
from investment_system.services.stream.delivery import error_frame
from tests.support.accounts import (
    admin_patch_user,
    after_the_refresh_grace,
    change_password,
    login,
    logout,
    refresh,
    signed_up,
    signed_up_admin,
)
from tests.support.functions import function_module, invoke
from tests.support.signals import buy_body
from tests.support.stream import connection_row, install_fake_api


@pytest.fixture
def api(monkeypatch, settings_env):
    return install_fake_api(monkeypatch, settings_env)


def _call(function: str, event: dict) -> dict:
    return function_module(function).handler(event, LambdaContextStub(function_name=function))


def _ticket(tokens: dict[str, Any]) -> str:
    reply = invoke(
        "CreateStreamTicketFunction",
        "POST",
        "/v1/stream/tickets",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert reply.status == 201, reply.text
    return str(reply.json["ticket"])


def _connect(ticket: str, connection_id: str) -> int:
    reply = _call("StreamConnectFunction", websocket_event("$connect", connection_id, query={"ticket": ticket}))
    return int(reply["statusCode"])


def _open(api, tokens: dict[str, Any], connection_id: str) -> None:
    assert _connect(_ticket(tokens), connection_id) == 200
    api.open.add(connection_id)


def _logout(user, first, second, monkeypatch) -> None:
    assert logout(first["access_token"], first["refresh_token"]).status == 204


def _refresh_reuse(user, first, second, monkeypatch) -> None:
    assert refresh(first["refresh_token"]).status == 200
    after_the_refresh_grace(monkeypatch)
    assert refresh(first["refresh_token"]).error_code == "TOKEN_REVOKED"


def _password_change(user, first, second, monkeypatch) -> None:
    assert change_password(first["access_token"]).status == 204


def _admin_update(body: dict[str, Any]) -> Callable[..., None]:
    def update(user, first, second, monkeypatch) -> None:
        _, admin = signed_up_admin()
        assert admin_patch_user(admin["access_token"], user["id"], body).status == 200

    return update


# (ending, the error frame the ended connections get, whether the user's other session ends too)
ENDINGS = {
    "logout": (_logout, ErrorCode.TOKEN_REVOKED, False),
    "refresh token reuse": (_refresh_reuse, ErrorCode.TOKEN_REVOKED, False),
    "password change": (_password_change, ErrorCode.TOKEN_REVOKED, True),
    "deactivation": (_admin_update({"is_active": False}), ErrorCode.ACCOUNT_DISABLED, True),
    "role change": (_admin_update({"role": "admin"}), ErrorCode.TOKEN_REVOKED, True),
}


@pytest.mark.parametrize("ending", ENDINGS)
def test_an_ended_session_closes_its_connections_sends_them_nothing_more_and_refuses_its_tickets(
    db, api, monkeypatch, ending
):
    end, code, every_session = ENDINGS[ending]
    # Given a user signed in twice, with a live connection and an unused ticket of the first session,
    # and a live connection of the second
    user, first = signed_up(f"listener-{uuid.uuid4().hex[:8]}@example.com")
    second = login(user["email"]).json
    _open(api, first, "ending")
    unused = _ticket(first)
    _open(api, second, "other")
    # When the first session ends
    end(user, first, second, monkeypatch)
    # And a change of the user commits after it, before any delivery has run
    with unit_of_work() as session:
        create_signal(
            session,
            uuid.UUID(user["id"]),
            SignalCreate.model_validate(buy_body()),
            unlimited_quota(session, uuid.UUID(user["id"])),
        )
    # Then the delivery the ending asked for closes the ended session's connection: its last error
    # frame, then DeleteConnection, and nothing of what was committed after the ending
    assert {request["user_id"] for request in api.requested} == {user["id"]}
    for request in api.requested:
        _call("StreamDeliveryFunction", request)
    assert api.frames["ending"] == [error_frame(code)]
    assert "ending" in api.deleted
    assert connection_row("ending") is None
    # And the other session's connection is closed the same way when every session ended, else sent the change
    if every_session:
        assert api.frames["other"] == [error_frame(code)]
        assert "other" in api.deleted
    else:
        assert [frame["type"] for frame in api.frames["other"]] == ["signal.created"]
        assert connection_row("other") is not None
    # And the ticket minted before the ending no longer opens a connection
    refused = _call("StreamConnectFunction", websocket_event("$connect", "late", query={"ticket": unused}))
    assert refused["statusCode"] == 401
    assert json.loads(refused["body"])["error"]["code"] == "STREAM_TICKET_INVALID"
    assert connection_row("late") is None


def test_a_ticket_minted_as_its_session_ends_is_refused(db, api):
    # Given a ticket the ending did not see: minted by a request authenticated before a logout and
    # committed after it (put back here as that request would have written it)
    _, tokens = signed_up(f"racer-{uuid.uuid4().hex[:8]}@example.com")
    ticket = _ticket(tokens)
    with unit_of_work() as session:
        saved = session.scalars(select(StreamTicket)).one()
        row = {column: getattr(saved, column) for column in ("token_hash", "user_id", "session_id", "expires_at")}
    assert logout(tokens["access_token"], tokens["refresh_token"]).status == 204
    with unit_of_work() as session:
        session.add(StreamTicket(**row))
    # When it is presented, Then the handshake is refused: its session is no longer live
    assert _connect(ticket, "late") == 401
    assert connection_row("late") is None


def test_an_ended_connection_is_closed_before_a_slow_push_to_another(db, api):
    # Given a user's older connection, whose pushes hang, and a connection of a session that then ends
    user, first = signed_up(f"slow-{uuid.uuid4().hex[:8]}@example.com")
    second = login(user["email"]).json
    _open(api, second, "slow")
    _open(api, first, "ending")
    create_signal_within_quota(None, uuid.UUID(user["id"]), SignalCreate.model_validate(buy_body()))
    api.requested.clear()
    api.stalled.add("slow")
    assert logout(first["access_token"], first["refresh_token"]).status == 204
    # When the delivery the logout asked for runs, Then it has closed the ended connection before the push
    # that hangs
    with ThreadPoolExecutor(1) as pool:
        delivering = pool.submit(_call, "StreamDeliveryFunction", api.requested.pop())
        try:
            assert api.stalling.wait(10)
            assert api.deleted == ["ending"]
        finally:
            api.unstall.set()
        assert delivering.result(timeout=30)["pushed"] == 1
