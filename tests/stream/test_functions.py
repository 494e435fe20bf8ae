"""The stream's functions invoked with API Gateway's events: the ticket route, $connect, $default,
$disconnect and the delivery function, each with its sample event from events/."""

from __future__ import annotations

import copy
import json

import pytest

from invest_dev.events import LambdaContextStub, websocket_event
from invest_dev.samples import event_path, load_event, seed_sample_users, stream_ticket
from invest_dev.template import FunctionSpec, functions, stream_functions
from investment_system.errors import ErrorCode
from investment_system.services.stream import delivery
from investment_system.services.stream.delivery import error_frame
from tests.support.functions import Reply, function_module, invoke
from tests.support.signals import CREATE, buy_body, call, make_investor
from tests.support.stream import connection_row, install_fake_api, open_connections

STREAM_FUNCTIONS = [*stream_functions(), *(spec for spec in functions() if spec.name == "StreamDeliveryFunction")]


def _call(function: str, event: dict) -> dict:
    return function_module(function).handler(event, LambdaContextStub(function_name=function))


def _ticket(investor) -> str:
    reply = invoke("CreateStreamTicketFunction", "POST", "/v1/stream/tickets", headers=investor.headers)
    assert reply.status == 201, reply.text
    assert reply.json["expires_in"] == 60
    return reply.json["ticket"]


def _connect(ticket: str | None, connection_id: str = "conn-1", **query: str) -> dict:
    parameters = {"ticket": ticket, **query} if ticket is not None else query
    return _call("StreamConnectFunction", websocket_event("$connect", connection_id, query=parameters))


@pytest.fixture
def api(monkeypatch, settings_env):
    return install_fake_api(monkeypatch, settings_env)


def test_a_ticket_needs_a_signed_in_caller(db):
    reply = invoke("CreateStreamTicketFunction", "POST", "/v1/stream/tickets")
    assert (reply.status, reply.error_code) == (401, "AUTHENTICATION_REQUIRED")


def test_connect_with_a_ticket_opens_and_asks_for_the_replay(db, api):
    # Given an investor with one event, and a ticket
    investor = make_investor()
    call(CREATE, investor, json_body=buy_body())
    ticket = _ticket(investor)
    # When $connect is invoked with it, asking for the events after 0
    reply = _connect(ticket, last_event_id="0")
    # Then the handshake is accepted, the connection stored and a delivery for it asked for
    assert reply == {"statusCode": 200}
    assert connection_row("conn-1").user_id == investor.user_id
    assert api.requested == [{"user_id": str(investor.user_id), "opened": "conn-1"}]
    # And the delivery function, invoked with that request, finds the connection open and sends the event
    api.open.add("conn-1")
    assert _call("StreamDeliveryFunction", api.requested[0]) == {"pushed": 1, "gone": 0, "failed": 0}
    assert [frame["type"] for frame in api.events_sent("conn-1")] == ["signal.created"]


def test_connect_with_nothing_to_replay_asks_for_no_delivery(db, api):
    investor = make_investor()
    assert _connect(_ticket(investor)) == {"statusCode": 200}
    assert api.requested == []


@pytest.mark.parametrize("ticket", [None, "", "forged-ticket", "x" * 500])
def test_connect_without_a_valid_ticket_is_refused_with_401(db, api, ticket):
    reply = _connect(ticket)
    assert reply["statusCode"] == 401
    assert json.loads(reply["body"])["error"]["code"] == "STREAM_TICKET_INVALID"
    assert api.requested == []


def test_connect_is_rate_limited_per_client_ip(db, api, settings_env):
    settings_env.setenv("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "2")
    statuses = [_connect("forged", f"c{n}")["statusCode"] for n in range(3)]
    assert statuses == [401, 401, 429]


def test_message_answers_ping_with_pong_and_anything_else_with_an_error_frame(db):
    pong = _call("StreamMessageFunction", websocket_event("$default", "c", body='{"action": "ping"}'))
    assert pong == {"statusCode": 200, "body": '{"type":"pong"}'}
    other = _call("StreamMessageFunction", websocket_event("$default", "c", body='{"action": "shout"}'))
    assert json.loads(other["body"])["code"] == "UNSUPPORTED_MESSAGE"


def test_disconnect_forgets_the_connection(db, api):
    investor = make_investor()
    _connect(_ticket(investor))
    assert _call("StreamDisconnectFunction", websocket_event("$disconnect", "conn-1")) == {"statusCode": 200}
    assert connection_row("conn-1") is None
    assert open_connections(investor.user_id) == 0


@pytest.mark.parametrize("spec", STREAM_FUNCTIONS, ids=[spec.name for spec in STREAM_FUNCTIONS])
def test_stream_function_serves_its_sample_event(spec: FunctionSpec, db, api):
    # Given the function's sample event, with a fresh ticket or the sample user's id where it has placeholders
    assert event_path(spec).is_file(), f"missing sample event events/{spec.name}.json"
    event = copy.deepcopy(load_event(spec))
    users = seed_sample_users()
    if "queryStringParameters" in event:
        event["queryStringParameters"]["ticket"] = _ticket_of(users.user_id)
    if "user_id" in event:
        event["user_id"] = str(users.user_id)
    # When it is invoked, Then it answers without a server error
    reply = _call(spec.name, event)
    if "statusCode" in reply:
        assert Reply({"headers": {}, **reply}).status == 200, reply


def _ticket_of(user_id) -> str:
    return stream_ticket(user_id)


def test_request_close_makes_the_delivery_function_send_the_reason_and_close(db, api):
    # Given an open connection
    api.open.add("conn-9")
    # When a function asks for it to be closed for too many messages
    delivery.request_close("conn-9", ErrorCode.RATE_LIMIT_EXCEEDED)
    assert api.requested == [{"close": "conn-9", "code": "RATE_LIMIT_EXCEEDED"}]
    # Then the delivery function, invoked with that request, sends the error frame and deletes the connection
    assert _call("StreamDeliveryFunction", api.requested[0])["pushed"] == 0
    assert api.frames["conn-9"] == [error_frame(ErrorCode.RATE_LIMIT_EXCEEDED)]
    assert api.deleted == ["conn-9"]
