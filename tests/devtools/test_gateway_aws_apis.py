"""The local gateway's emulated AWS APIs (Lambda's Invoke, the API Gateway Management API) are served
only where the functions' boto3 clients reach them: on a listener of their own on 127.0.0.1, for
requests SigV4-signed with the workers' credentials. On the public port they do not exist.

On the stream fixture template (tests/fixtures/stream): its handlers accept the ticket "ok" and answer
"whoami" with the connection id.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from websockets.sync.client import connect

from invest_dev.gateway.aws import MANAGEMENT_PREFIX
from tests.support.gateway import RunningGateway

pytestmark = pytest.mark.slow
FIXTURE_TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures/stream/template.yaml"
KEY, SECRET = "gateway-test-key", "gateway-test-secret"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """The gateway on the stream fixture; its workers are given KEY and SECRET to sign with."""
    code = (
        "import sys; from pathlib import Path; from invest_dev.gateway.server import serve; "
        "serve('127.0.0.1', 0, template=Path(sys.argv[1]))"
    )
    metrics = tmp_path_factory.mktemp("aws-apis") / "metrics.jsonl"
    env = {
        "PATH": "/usr/bin:/bin",
        "METRICS_FILE": str(metrics),
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
    }
    running = RunningGateway([sys.executable, "-c", code, str(FIXTURE_TEMPLATE)], env)
    try:
        yield running
    finally:
        running.stop()


def _client(service: str, endpoint: str, key: str = KEY, secret: str = SECRET) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def _management(endpoint: str, **credentials: str) -> Any:
    return _client("apigatewaymanagementapi", endpoint + "/v1/stream", **credentials)


def _connection_id(stream: Any) -> str:
    stream.send("whoami")
    return str(stream.recv(timeout=30))


@pytest.fixture
def stream(gateway: RunningGateway) -> Iterator[Any]:
    with connect(gateway.base_url.replace("http://", "ws://") + "/v1/stream?ticket=ok", open_timeout=60) as opened:
        yield opened


# --- The public port ----------------------------------------------------------------------------


def test_a_signed_post_to_connection_on_the_public_port_reaches_no_one(gateway: RunningGateway, stream: Any) -> None:
    # Given an open connection, and its id
    connection_id = _connection_id(stream)
    # When a client signs PostToConnection and DeleteConnection with the workers' own credentials,
    # but sends them to the API's public port
    public = _management(gateway.base_url)
    with pytest.raises(ClientError) as posted:
        public.post_to_connection(ConnectionId=connection_id, Data=b'{"type":"forged"}')
    with pytest.raises(ClientError) as deleted:
        public.delete_connection(ConnectionId=connection_id)
    # Then the public port has no such route, as API Gateway's HTTP API would answer
    assert posted.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert deleted.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # And the connection got nothing and is still open
    stream.send("whoami")
    assert stream.recv(timeout=10) == connection_id
    assert _management(gateway.aws_url).get_connection(ConnectionId=connection_id)["Identity"]["SourceIp"]


def test_a_signed_invoke_on_the_public_port_runs_nothing(gateway: RunningGateway) -> None:
    # When a client signs Lambda's Invoke of a function of the template and sends it to the public port
    public = _client("lambda", gateway.base_url)
    with pytest.raises(ClientError) as refused:
        public.invoke(FunctionName="MessageFunction", Payload=b'{"requestContext": {"connectionId": "x"}}')
    # Then there is no such route there
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# --- The AWS APIs' own listener -------------------------------------------------------------------


def test_the_aws_apis_listen_on_the_loopback_interface_only(gateway: RunningGateway) -> None:
    # When the gateway has started
    address = urlsplit(gateway.aws_url)
    # Then its AWS APIs have a port of their own, on 127.0.0.1
    assert address.hostname == "127.0.0.1"
    assert address.port not in (None, urlsplit(gateway.base_url).port)


def test_calls_signed_with_the_workers_credentials_are_answered(gateway: RunningGateway, stream: Any) -> None:
    # Given an open connection
    connection_id = _connection_id(stream)
    # When PostToConnection is signed with the workers' credentials and sent to the AWS APIs' listener
    _management(gateway.aws_url).post_to_connection(ConnectionId=connection_id, Data=b'{"type":"pushed"}')
    # Then the connection gets the frame
    assert stream.recv(timeout=10) == '{"type":"pushed"}'
    # And a signed Invoke is answered too
    with pytest.raises(ClientError) as missing:
        _client("lambda", gateway.aws_url).invoke(FunctionName="NoSuchFunction", Payload=b"{}")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_unsigned_call_is_forbidden(gateway: RunningGateway) -> None:
    # When a client posts to a connection without signing
    reply = requests.post(gateway.aws_url + MANAGEMENT_PREFIX + "anything", data=b"x", timeout=10)
    # Then it is refused, as AWS refuses it
    assert reply.status_code == 403
    assert reply.json() == {"message": "Missing Authentication Token"}


@pytest.mark.parametrize(
    ("credentials", "code"),
    [
        ({"secret": "not-the-secret"}, "InvalidSignatureException"),
        ({"key": "someone-else", "secret": SECRET}, "UnrecognizedClientException"),
    ],
)
def test_a_call_signed_with_other_credentials_is_forbidden(
    gateway: RunningGateway, stream: Any, credentials: dict[str, str], code: str
) -> None:
    # Given an open connection
    connection_id = _connection_id(stream)
    # When PostToConnection and DeleteConnection are signed with credentials other than the workers'
    management = _management(gateway.aws_url, **credentials)
    with pytest.raises(ClientError) as posted:
        management.post_to_connection(ConnectionId=connection_id, Data=b'{"type":"forged"}')
    with pytest.raises(ClientError) as deleted:
        management.delete_connection(ConnectionId=connection_id)
    # Then both are forbidden, saying why as AWS does
    for refused in (posted, deleted):
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert refused.value.response["Error"]["Code"] == code
    # And the connection got nothing and is still open
    stream.send("whoami")
    assert stream.recv(timeout=10) == connection_id


def test_a_signed_call_whose_body_was_changed_is_forbidden(gateway: RunningGateway, stream: Any) -> None:
    # Given an open connection, and a PostToConnection signed with the workers' credentials
    connection_id = _connection_id(stream)
    management = _management(gateway.aws_url)

    def swap_body(request: Any, **_: Any) -> None:
        request.body = b'{"type":"forged"}'  # after signing, before sending; as long as the signed one

    management.meta.events.register_first("before-send.apigatewaymanagementapi.PostToConnection", swap_body)
    # When its body is replaced on the way
    with pytest.raises(ClientError) as refused:
        management.post_to_connection(ConnectionId=connection_id, Data=b'{"type":"signed"}')
    # Then the signature no longer matches: forbidden, and nothing is sent
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
    stream.send("whoami")
    assert stream.recv(timeout=10) == connection_id


@pytest.mark.parametrize("skew", [timedelta(minutes=-10), timedelta(minutes=10)])
def test_a_call_signed_too_long_ago_or_ahead_is_forbidden(gateway: RunningGateway, skew: timedelta) -> None:
    # When an Invoke is signed with a clock 10 minutes off (AWS allows 5)
    client = _client("lambda", gateway.aws_url)
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=datetime.now(UTC).replace(tzinfo=None) + skew),
        pytest.raises(ClientError) as refused,
    ):
        client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
    # Then it is forbidden: its signature has expired
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_a_signature_scoped_to_another_service_is_forbidden(gateway: RunningGateway) -> None:
    # When a Management API call is signed for Lambda (the scope names the service)
    client = _client("lambda", gateway.aws_url)

    def to_management(request: Any, **_: Any) -> None:
        request.url = gateway.aws_url + MANAGEMENT_PREFIX + "anything"

    client.meta.events.register_first("before-sign.lambda.Invoke", to_management)
    with pytest.raises(ClientError) as refused:
        client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
    # Then it is forbidden
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
