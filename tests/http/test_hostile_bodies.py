"""Hostile request bodies, sent to every route that takes a body, on SQLite, PostgreSQL and MariaDB.

Whatever the body, the answer is a 4xx with the error envelope and nothing is logged at ERROR:
nesting 10 000 levels deep or one level past the limit, a number literal of 5 000 digits or one
character past the limit, NaN, a JSON array whose first element is a good body (Powertools alone
would take that element and drop the rest), a scalar, a body over the size limit, bytes that are not
UTF-8, text that is not JSON, a NUL (which PostgreSQL refuses to store) or an unpaired surrogate in
a string. Each route is called as its caller would call it (with a fresh token, or signed for the
payment webhook), so the body is what decides.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from invest_dev.events import LambdaContextStub
from invest_dev.samples import load_event, seed_sample_users, with_fresh_token
from invest_dev.template import FunctionSpec, http_functions
from investment_system.http.routing import openapi_document
from investment_system.services.billing.webhooks import sign
from investment_system.settings import get_settings
from tests.support.functions import Reply, function_module

ENVELOPE_FIELDS = {"code", "message", "details", "correlation_id", "timestamp"}


def _routes_with_a_body() -> list[FunctionSpec]:
    paths = json.loads(openapi_document())["paths"]
    takes_body = {
        (method.upper(), path)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "requestBody" in operation
    }
    return [spec for spec in http_functions() if any((r.method, r.path) in takes_body for r in spec.routes)]


BODY_ROUTES = _routes_with_a_body()


def _nested(levels: int) -> str:
    return '{"a": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


def _hostile_bodies(good_body: str) -> dict[str, tuple[bytes | str, int, str]]:
    """name: (body, status, code) for every hostile shape."""
    limits = get_settings().requests
    return {
        "nested 10 000 deep": (_nested(10_000), 400, "MALFORMED_JSON"),
        "nested one level too deep": (_nested(limits.json_max_depth + 1), 400, "MALFORMED_JSON"),
        "integer of 5 000 digits": ('{"a": ' + "7" * 5_000 + "}", 400, "MALFORMED_JSON"),
        "number one character too long": (
            '{"a": 0.' + "5" * (limits.json_max_number_length - 1) + "}",
            400,
            "MALFORMED_JSON",
        ),
        "NaN": ('{"a": NaN}', 400, "MALFORMED_JSON"),
        "array of objects": (f'[{good_body}, {{"role": "admin"}}]', 422, "VALIDATION_ERROR"),
        "scalar": ("42", 422, "VALIDATION_ERROR"),
        "null": ("null", 422, "VALIDATION_ERROR"),
        "over the size limit": ('{"a": "' + "x" * limits.body_max_bytes + '"}', 413, "PAYLOAD_TOO_LARGE"),
        "not UTF-8": (b'{"a": "\xff\xfe"}', 400, "MALFORMED_JSON"),
        "not JSON": ('{"a": ', 400, "MALFORMED_JSON"),
        "NUL in a string": ('{"a": ["x\\u0000y"]}', 422, "VALIDATION_ERROR"),
        "unpaired surrogate": ('{"a": "x\\ud800y"}', 422, "VALIDATION_ERROR"),
        "NUL in a field name": ('{"a\\u0000": 1}', 422, "VALIDATION_ERROR"),
    }


def _send(spec: FunctionSpec, event: dict[str, Any], body: bytes | str) -> Reply:
    """The event with this body (base64-encoded when it is not text, as API Gateway sends it)."""
    raw = body if isinstance(body, bytes) else body.encode()
    hostile = {**event, "body": body, "isBase64Encoded": False}
    if isinstance(body, bytes):
        hostile.update(body=base64.b64encode(body).decode("ascii"), isBase64Encoded=True)
    hostile["headers"] = {**event["headers"], "content-type": "application/json"}
    if spec.name == "PaymentWebhookFunction":  # signed, so that the body is what gets judged
        timestamp = int(time.time())
        hostile["headers"]["x-signature"] = (
            f"t={timestamp},v1={sign(get_settings().security.payment_webhook_secret, timestamp, raw)}"
        )
    return Reply(function_module(spec.name).handler(hostile, LambdaContextStub(function_name=spec.name)))


@pytest.mark.parametrize("spec", BODY_ROUTES, ids=[spec.name for spec in BODY_ROUTES])
def test_every_hostile_body_gets_a_4xx_envelope_and_no_error_log(spec, db, json_logs):
    # Given the route's sample event, from a caller it accepts (its body is a good one)
    event = with_fresh_token(load_event(spec), seed_sample_users())
    for name, (body, status, code) in _hostile_bodies(event["body"]).items():
        # When the body is a hostile one
        reply = _send(spec, event, body)
        # Then the answer is the expected 4xx, in the envelope
        assert (reply.status, reply.error_code) == (status, code), f"{spec.name}, {name}: {reply.text[:300]}"
        assert set(reply.json["error"]) == ENVELOPE_FIELDS, name
    # And nothing was logged as an error
    assert [entry for entry in json_logs() if entry["level"] == "ERROR"] == []
