"""The local gateway's WebSocket API and its emulated AWS APIs, on a fixture template whose handlers
accept the ticket "ok", echo messages and answer "whoami" with the connection id."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.support.gateway import RunningGateway

pytestmark = pytest.mark.slow
FIXTURE_TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures/stream/template.yaml"
IDLE_TIMEOUT_SECONDS = 1.5
MAX_LIFETIME_SECONDS = 4.0
AWS_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    code = (
        "import sys, functools; from pathlib import Path; from invest_dev.gateway import server; "
        f"server.StreamGateway = functools.partial(server.StreamGateway, max_lifetime={MAX_LIFETIME_SECONDS}); "
        f"server.serve('127.0.0.1', 0, template=Path(sys.argv[1]), idle_timeout={IDLE_TIMEOUT_SECONDS})"
    )
    metrics = tmp_path_factory.mktemp("stream-fixture") / "metrics.jsonl"
    # The workers sign the AWS APIs' calls with these, and the gateway checks them against these.
    env = {"PATH": "/usr/bin:/bin", "METRICS_FILE": str(metrics), **AWS_CREDENTIALS}
    running = RunningGateway([sys.executable, "-c", code, str(FIXTURE_TEMPLATE)], env)
    try:
        yield running
    finally:
        running.stop()


def _ws(gateway: RunningGateway, ticket: str = "ok") -> Any:
    return connect(gateway.base_url.replace("http://", "ws://") + f"/v1/stream?ticket={ticket}", open_timeout=60)


def _management(gateway: RunningGateway) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.aws_url + "/v1/stream",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_connect_refused_by_the_function_is_refused_at_the_handshake_with_its_status(gateway):
    with pytest.raises(InvalidStatus) as refused:
        _ws(gateway, ticket="wrong")
    assert refused.value.response.status_code == 401


def test_messages_go_to_default_and_its_answer_comes_back(gateway):
    with _ws(gateway) as stream:
        stream.send("hello")
        assert stream.recv(timeout=30) == "hello"


def test_the_management_api_posts_describes_and_deletes_a_connection(gateway):
    management = _management(gateway)
    with _ws(gateway) as stream:
        stream.send("whoami")
        connection_id = stream.recv(timeout=30)
        management.post_to_connection(ConnectionId=connection_id, Data=b'{"type": "pushed"}')
        assert stream.recv(timeout=5) == '{"type": "pushed"}'
        assert management.get_connection(ConnectionId=connection_id)["Identity"]["SourceIp"] == "127.0.0.1"
        management.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed) as closed:
            stream.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4008
    with pytest.raises(ClientError) as gone:
        management.post_to_connection(ConnectionId=connection_id, Data=b"late")
    assert gone.value.response["Error"]["Code"] == "GoneException"


@pytest.mark.parametrize(
    ("reason", "close_code"),
    [
        ("TOKEN_REVOKED", 4001),
        ("ACCOUNT_DISABLED", 4001),
        ("CONNECTION_LIMIT_EXCEEDED", 4008),
        ("RATE_LIMIT_EXCEEDED", 1008),
    ],
)
def test_delete_connection_closes_with_the_code_of_the_last_error_frame(gateway, reason, close_code):
    management = _management(gateway)
    with _ws(gateway) as stream:
        stream.send("whoami")
        connection_id = stream.recv(timeout=30)
        # When the backend sends an error frame, then deletes the connection
        frame = f'{{"type":"error","code":"{reason}","message":"why"}}'
        management.post_to_connection(ConnectionId=connection_id, Data=frame.encode())
        management.delete_connection(ConnectionId=connection_id)
        # Then the client gets the frame, then the close code that reason calls for
        assert stream.recv(timeout=5) == frame
        with pytest.raises(ConnectionClosed) as closed:
            stream.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == close_code


def test_a_connection_is_closed_at_its_maximum_lifetime_even_when_active(gateway):
    # Given a connection whose client keeps talking (never idle)
    started = time.monotonic()
    with _ws(gateway) as stream, pytest.raises(ConnectionClosed) as closed:
        _keep_talking(stream, until=started + MAX_LIFETIME_SECONDS + 10)
    # Then the gateway closes it once it has lived its maximum lifetime (API Gateway's 2 h)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    assert MAX_LIFETIME_SECONDS <= time.monotonic() - started < MAX_LIFETIME_SECONDS + 5


def _keep_talking(stream: Any, until: float) -> None:
    while time.monotonic() < until:
        stream.send("ping")
        assert stream.recv(timeout=5) == "ping"
        time.sleep(0.3)


def test_an_unsigned_management_call_is_forbidden(gateway):
    reply = requests.post(gateway.aws_url + "/v1/stream/@connections/anything", data=b"x", timeout=10)
    assert reply.status_code == 403


def test_an_idle_connection_is_closed_with_1001(gateway):
    # The gateway's idle clock starts once it has answered the handshake, before the client's connect
    # returns: timed from before the connect, the connection was open at least that long.
    started = time.monotonic()
    with _ws(gateway) as stream, pytest.raises(ConnectionClosed) as closed:
        stream.recv(timeout=30)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    assert IDLE_TIMEOUT_SECONDS <= time.monotonic() - started < IDLE_TIMEOUT_SECONDS + 5


def test_invoking_an_unknown_function_is_resource_not_found(gateway):
    client = boto3.client(
        "lambda",
        endpoint_url=gateway.aws_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    with pytest.raises(ClientError) as missing:
        client.invoke(FunctionName="NoSuchFunction", InvocationType="Event", Payload=b"{}")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
