"""The local gateway's SigV4 check (invest_dev.gateway.sigv4) on requests botocore signs, then alters."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from invest_dev.gateway.sigv4 import signature_refusal

CREDENTIALS = Credentials("local", "run-secret")
NOW = datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC)
BODY = b'{"type":"signal"}'
URL = "http://127.0.0.1:40123/v1/stream/%40connections/Ab%3D%3D?x=1"

Received = tuple[str, str, dict[str, str], bytes]  # method, target, headers (lower-case), body


def signed(
    credentials: Credentials = CREDENTIALS,
    service: str = "execute-api",
    at: datetime = NOW,
    headers: dict[str, str] | None = None,
) -> Received:
    """A POST as botocore signs it and the gateway receives it."""
    request = AWSRequest("POST", URL, data=BODY, headers=headers or {})
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        SigV4Auth(credentials, service, "us-east-1").add_auth(request)
    prepared = request.prepare()
    url = urlsplit(prepared.url)
    received = {name.lower(): value for name, value in prepared.headers.items()}
    received["host"] = url.netloc
    return "POST", f"{url.path}?{url.query}", received, BODY


def check(received: Received, service: str = "execute-api") -> str | None:
    method, target, headers, body = received
    refusal = signature_refusal(CREDENTIALS, service, method, target, headers, body, now=NOW)
    return None if refusal is None else refusal.code


def test_a_request_signed_with_the_credentials_for_the_service_passes() -> None:
    # Given a request botocore signed with the workers' credentials, for the Management API
    # Then it passes, within 5 minutes either way
    assert check(signed()) is None
    assert check(signed(at=NOW - timedelta(minutes=4))) is None
    assert check(signed(at=NOW + timedelta(minutes=4))) is None


def _with(headers: dict[str, str]) -> Callable[[Received], Received]:
    def change(received: Received) -> Received:
        method, target, original, body = received
        return method, target, {**original, **headers}, body

    return change


def _unsigned(received: Received) -> Received:
    method, target, headers, body = received
    return method, target, {k: v for k, v in headers.items() if k != "authorization"}, body


def _body(received: Received) -> Received:
    method, target, headers, _ = received
    return method, target, headers, b'{"type":"forged"}'


def _target(received: Received) -> Received:
    method, _, headers, body = received
    return method, "/v1/stream/%40connections/Other%3D%3D?x=1", headers, body


def _method(received: Received) -> Received:
    _, target, headers, body = received
    return "DELETE", target, headers, body


def _signed_headers(names: str) -> Callable[[Received], Received]:
    def change(received: Received) -> Received:
        method, target, headers, body = received
        authorization = headers["authorization"].replace("SignedHeaders=host;x-amz-date", f"SignedHeaders={names}")
        return method, target, {**headers, "authorization": authorization}, body

    return change


@pytest.mark.parametrize(
    ("alter", "code"),
    [
        (_unsigned, "MissingAuthenticationTokenException"),
        (_with({"authorization": "AWS4-HMAC-SHA256 Signature=00"}), "IncompleteSignatureException"),
        (_body, "InvalidSignatureException"),
        (_target, "InvalidSignatureException"),
        (_method, "InvalidSignatureException"),
        (_with({"host": "127.0.0.1:40124"}), "InvalidSignatureException"),
        (_with({"x-amz-date": "20261207T100100Z"}), "InvalidSignatureException"),
        (_with({"x-amz-date": "20261208T000000Z"}), "InvalidSignatureException"),  # not the scope's day
        (_with({"x-amz-date": "yesterday"}), "IncompleteSignatureException"),
        (_signed_headers("x-amz-date"), "IncompleteSignatureException"),  # host unsigned
        (_signed_headers("host;x-amz-date;x-missing"), "IncompleteSignatureException"),
    ],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_a_request_changed_after_signing_is_refused(alter: Callable[[Received], Received], code: str) -> None:
    # When a signed request is changed on its way (or was never signed)
    # Then it is refused, with the error type AWS gives
    assert check(alter(signed())) == code


def test_other_credentials_a_stale_clock_or_another_service_are_refused() -> None:
    assert check(signed(Credentials("local", "guessed"))) == "InvalidSignatureException"
    assert check(signed(Credentials("someone", "run-secret"))) == "UnrecognizedClientException"
    assert check(signed(at=NOW - timedelta(minutes=6))) == "InvalidSignatureException"
    assert check(signed(at=NOW + timedelta(minutes=6))) == "InvalidSignatureException"
    assert check(signed(service="lambda")) == "InvalidSignatureException"


def test_a_signed_payload_hash_must_be_the_body_s() -> None:
    # Given a request that signs X-Amz-Content-SHA256 (botocore then signs that header, not the body)
    honest = signed(headers={"X-Amz-Content-SHA256": hashlib.sha256(BODY).hexdigest()})
    lying = signed(headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    # Then it passes only when the header is the hash of the body received
    assert check(honest) is None
    assert check(_body(honest)) == "InvalidSignatureException"
    assert check(lying) == "InvalidSignatureException"
