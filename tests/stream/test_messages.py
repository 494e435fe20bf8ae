"""The stream's `$default` route (services/stream/messages.py) through its function: one reader for every
client message (MALFORMED_MESSAGE, never an internal error), ping, and the per-connection message limit
that ends with the connection closed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import boto3
import pytest
import requests
from moto import mock_aws
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from invest_dev.events import LambdaContextStub, websocket_event
from investment_system.services.stream import delivery
from investment_system.services.stream.messages import REFUSALS_BEFORE_CLOSE
from tests.support.billing import count_metrics_from_here, emitted_metrics
from tests.support.functions import function_module
from tests.support.gateway import RunningGateway, invest_serve_command, migrated_api_environment
from tests.support.stream import FakeManagementApi

NOW = 1_900_000_000.25  # a quarter into a second: the frozen clock of the rate tests


def _send(body: str | None, connection_id: str = "conn-1") -> dict:
    """The frame StreamMessageFunction answers a client's message with (its reply's body)."""
    reply = function_module("StreamMessageFunction").handler(
        websocket_event("$default", connection_id, body=body), LambdaContextStub(function_name="StreamMessageFunction")
    )
    assert reply["statusCode"] == 200, reply
    return dict(json.loads(reply["body"]))


def _codes(frames: list[dict]) -> list[str]:
    return [frame.get("code", frame["type"]) for frame in frames]


@pytest.fixture
def api(monkeypatch, settings_env):
    """The fake Management API and Lambda Invoke; `api.requested` holds what the code asked the delivery
    function to do."""
    fake = FakeManagementApi()
    settings_env.setenv("STREAM_DELIVERY_FUNCTION", "StreamDeliveryFunction")
    monkeypatch.setattr(delivery, "_management_client", lambda: fake)
    monkeypatch.setattr(delivery, "_lambda_client", lambda: fake)
    return fake


@pytest.fixture
def clock(monkeypatch):
    """A frozen clock: `clock.now` is what time.time() returns; tests move it."""

    class Clock:
        now = NOW

    monkeypatch.setattr(time, "time", lambda: Clock.now)
    return Clock


# --- One reader ------------------------------------------------------------------------------------------

DEEP = 100_000  # the outside test's message: json.loads recursed out of the stack on it
MALFORMED = {
    "deeply nested": '{"action": ' + "[" * DEEP + "]" * DEEP + "}",
    "nested within 4 KiB": '{"action": "ping", "a": ' + '{"b": ' * 500 + "1" + "}" * 500 + "}",
    "a nested object": '{"action": "ping", "options": {"verbose": true}}',
    "a nested array": '{"action": "ping", "ids": [1, 2]}',
    "5 KiB": json.dumps({"action": "ping", "padding": "x" * 5 * 1024}),
    "4 KiB of characters, more in bytes": json.dumps({"action": "ping", "padding": "é" * 2040}),
    "an array": '[{"action": "ping"}]',
    "a string": '"ping"',
    "a number": "42",
    "null": "null",
    "not JSON": "ping",
    "cut short": '{"action": "ping"',
    "NaN": '{"action": "ping", "n": NaN}',
    "empty": "",
    "no body": None,
    "an unpaired surrogate (not UTF-8)": '{"action": "ping\ud800"}',
    "invalid UTF-8 as the local gateway decodes it": "\ufffd\ufffd",
}


@pytest.mark.parametrize("message", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_message_that_is_not_a_small_flat_json_object_gets_malformed_message(message):
    # Given a message over 4 KiB, not JSON, not one object, or with an object or an array as a value
    # When a client sends it
    frame = _send(message)
    # Then the answer is a MALFORMED_MESSAGE error frame saying what is wrong, never an internal error
    assert (frame["type"], frame["code"]) == ("error", "MALFORMED_MESSAGE")
    assert frame["message"]


def test_ping_gets_pong_up_to_4_kib_with_any_flat_fields():
    # Given pings: the bare one, one with flat fields of every JSON scalar type, one of exactly 4096 bytes
    flat = {"action": "ping", "id": 7, "at": 1.5, "note": "é", "urgent": False, "reply_to": None}
    exactly_4_kib = json.dumps({"action": "ping", "padding": ""})
    exactly_4_kib = json.dumps({"action": "ping", "padding": "x" * (4096 - len(exactly_4_kib))})
    assert len(exactly_4_kib.encode()) == 4096
    # When each is sent, Then each is answered with a pong
    for message in ('{"action": "ping"}', json.dumps(flat), exactly_4_kib):
        assert _send(message) == {"type": "pong"}


@pytest.mark.parametrize("message", ['{"action": "subscribe"}', '{"action": 1}', "{}", '{"Action": "ping"}'])
def test_a_flat_object_that_is_not_a_ping_gets_unsupported_message(message):
    frame = _send(message)
    assert (frame["type"], frame["code"]) == ("error", "UNSUPPORTED_MESSAGE")
    assert frame["message"] == 'The stream understands one message: {"action": "ping"}.'


# --- At most 10 messages a second per connection ---------------------------------------------------------


@pytest.fixture(
    params=["memory", pytest.param("redis", marks=pytest.mark.redis), "dynamodb"],
)
def backend(request, settings_env, monkeypatch) -> Iterator[str]:
    """The rate limiter on each backend (RATE_LIMIT_BACKEND): DynamoDB is moto's."""
    settings_env.setenv("RATE_LIMIT_BACKEND", request.param)
    if request.param != "dynamodb":
        yield request.param
        return
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    settings_env.setenv("RATE_LIMIT_TABLE", "stream-message-limits")
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName="stream-message-limits",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield request.param


def test_more_than_10_messages_in_a_second_get_rate_limit_exceeded(api, clock, backend, capsys):
    # Given a connection, on each rate-limiter backend
    connection = f"conn-{uuid.uuid4().hex}"
    count_metrics_from_here(capsys)
    # When it sends 12 messages within one second
    frames = [_send('{"action": "ping"}', connection) for _ in range(12)]
    # Then the first 10 are answered and the 11th and 12th get RATE_LIMIT_EXCEEDED, unread
    assert _codes(frames) == ["pong"] * 10 + ["RATE_LIMIT_EXCEEDED"] * 2
    assert frames[-1]["message"] == "At most 10 messages a second on a connection."
    assert emitted_metrics(capsys.readouterr().out).get("RateLimitExceeded") == 2
    # And another connection is not affected, nor this one in the next second
    assert _send('{"action": "ping"}', f"conn-{uuid.uuid4().hex}") == {"type": "pong"}
    clock.now += 1
    assert _send('{"action": "ping"}', connection) == {"type": "pong"}
    # And nothing asked for the connection to be closed
    assert api.requested == []


def test_malformed_messages_count_against_the_limit_too(api, clock):
    frames = [_send("[]") for _ in range(10)] + [_send('{"action": "ping"}')]
    assert _codes(frames) == ["MALFORMED_MESSAGE"] * 10 + ["RATE_LIMIT_EXCEEDED"]


def test_a_connection_flooding_past_10_refused_messages_is_asked_closed_with_rate_limit_exceeded(api, clock):
    # Given an open connection
    api.open.add("conn-1")
    # When it sends 20 messages in one second: 10 answered, 10 refused
    frames = [_send('{"action": "ping"}') for _ in range(20)]
    assert _codes(frames) == ["pong"] * 10 + ["RATE_LIMIT_EXCEEDED"] * 10
    # Then it is not closed yet
    assert api.requested == []
    # When it keeps on: the 11th refused message
    assert _send('{"action": "ping"}')["code"] == "RATE_LIMIT_EXCEEDED"
    # Then the delivery function is asked to close it with RATE_LIMIT_EXCEEDED
    assert api.requested == [{"close": "conn-1", "code": "RATE_LIMIT_EXCEEDED"}]
    # And that function, invoked with the request, sends the reason as a last frame and deletes the connection
    deliver = function_module("StreamDeliveryFunction").handler
    deliver(api.requested[0], LambdaContextStub(function_name="StreamDeliveryFunction"))
    assert api.frames["conn-1"][-1]["code"] == "RATE_LIMIT_EXCEEDED"
    assert api.deleted == ["conn-1"]


def test_a_connection_a_little_over_the_limit_for_long_is_closed_too(api, clock):
    # Given a connection sending 11 messages every second: one refused each second
    for second in range(10):
        clock.now = NOW + second
        assert _codes([_send('{"action": "ping"}') for _ in range(11)])[-1] == "RATE_LIMIT_EXCEEDED"
    # Then 10 refusals within a minute close nothing
    assert api.requested == []
    # When it goes on in the 11th second, Then its 11th refusal within the minute asks for the close
    clock.now = NOW + 10
    [_send('{"action": "ping"}') for _ in range(11)]
    assert api.requested == [{"close": "conn-1", "code": "RATE_LIMIT_EXCEEDED"}]


def test_a_burst_then_calm_never_closes_the_connection(api, clock):
    # Given a connection that once sent 20 messages in a second (10 refused)
    [_send('{"action": "ping"}') for _ in range(20)]
    # When it then sends one message a second for a minute and more
    for second in range(1, 70):
        clock.now = NOW + second
        assert _send('{"action": "ping"}') == {"type": "pong"}
    # Then it was never asked closed, and a second burst a minute later starts from no refusal
    clock.now = NOW + 70
    [_send('{"action": "ping"}') for _ in range(20)]
    assert api.requested == []


def test_a_limiter_down_and_failing_closed_is_an_error_frame_not_an_internal_error(api, settings_env):
    # Given a Redis backend nobody listens on, and the limiter failing closed
    settings_env.setenv("RATE_LIMIT_BACKEND", "redis")
    settings_env.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    settings_env.setenv("RATE_LIMIT_FAIL_OPEN", "false")
    # When a client pings, Then it gets the limiter's error as a frame
    frame = _send('{"action": "ping"}')
    assert (frame["type"], frame["code"]) == ("error", "RATE_LIMITER_UNAVAILABLE")


# --- Through the local gateway: a real WebSocket ---------------------------------------------------------


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = RunningGateway(invest_serve_command(), migrated_api_environment(tmp_path_factory.mktemp("messages")))
    try:
        yield running
    finally:
        running.stop()


def _open_stream(gateway: RunningGateway) -> ClientConnection:
    """A WebSocket of a new investor, through `invest serve` (its first requests may wait for containers)."""
    email = f"flood-{uuid.uuid4().hex[:10]}@example.com"
    account = {"email": email, "password": "Plum-Orchard-Ledger-42x"}
    assert requests.post(gateway.url("/v1/auth/register"), json=account, timeout=120).ok
    token = requests.post(gateway.url("/v1/auth/login"), json=account, timeout=120).json()["access_token"]
    ticket = requests.post(
        gateway.url("/v1/stream/tickets"), headers={"Authorization": f"Bearer {token}"}, timeout=120
    ).json()["ticket"]
    return connect(gateway.base_url.replace("http://", "ws://") + f"/v1/stream?ticket={ticket}", open_timeout=120)


@pytest.mark.slow
def test_a_client_flooding_its_websocket_is_closed_with_1008(gateway):
    # Given a WebSocket open through `invest serve`, its message function warm
    with _open_stream(gateway) as stream:
        stream.send('{"action": "ping"}')
        assert json.loads(stream.recv(timeout=120)) == {"type": "pong"}
        time.sleep(1)  # a second of its own for the flood
        # When the client sends 100 messages as fast as it can, then reads what comes back
        for _ in range(100):
            stream.send('{"action": "ping"}')
        frames, close_code = _until_closed(stream)
    # Then it got pongs up to the limit, then RATE_LIMIT_EXCEEDED frames, and the gateway closed it with 1008
    codes = _codes(frames)
    assert 10 <= codes.count("pong") < 100
    assert codes.count("RATE_LIMIT_EXCEEDED") > REFUSALS_BEFORE_CLOSE
    assert close_code == 1008


def _until_closed(stream: ClientConnection) -> tuple[list[dict], int | None]:
    """The frames received until the server closed the connection, and its close code."""
    frames: list[dict] = []
    try:
        while True:
            frames.append(json.loads(stream.recv(timeout=30)))
    except ConnectionClosed as closed:
        return frames, closed.rcvd.code if closed.rcvd is not None else None
