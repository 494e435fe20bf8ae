"""The OpenAPI document the API serves: valid, and complete enough to generate a client people can use."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate

from invest_dev.openapi import BUNDLED
from investment_system.http.route_facts import RateLimit, RouteFacts

DOCUMENT = json.loads(BUNDLED.read_text(encoding="utf-8"))
CAMEL_CASE = re.compile(r"^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]+)*$")
PUBLIC = {
    "GET /v1/health",
    "POST /v1/auth/register",
    "POST /v1/auth/login",
    "POST /v1/auth/refresh",
    "GET /v1/billing/plans",
    "POST /v1/billing/webhooks/payments",
}


def is_rate_limited(operation: dict[str, Any]) -> bool:
    """As the route declares it (its `x-rate-limit`, from `route_facts` in its decorator)."""
    return RouteFacts.of(operation).rate_limit is not RateLimit.NONE


def operations() -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in DOCUMENT["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_the_document_is_valid_openapi():
    # Given the bundled document (kept current by tests/project/test_consistency.py)
    # When openapi-spec-validator checks it (schema, $refs, parameters)
    # Then it raises nothing
    validate(DOCUMENT)


def test_every_operation_has_a_camel_case_operation_id_of_its_own():
    ids = [operation["operationId"] for _, operation in operations()]
    assert [name for name in ids if not CAMEL_CASE.match(name)] == []
    assert len(ids) == len(set(ids))
    assert {"createSignal", "listSignals", "getSubscription", "changePlan"} <= set(ids)


def test_every_operation_is_described_under_a_described_tag():
    tags = {tag["name"]: tag.get("description") for tag in DOCUMENT["tags"]}
    assert all(tags.values())
    for route, operation in operations():
        assert operation.get("description"), route
        assert operation["tags"], route
        assert set(operation["tags"]) <= set(tags), route


def test_public_operations_say_so_and_the_others_require_a_bearer_token():
    security = {route: operation["security"] for route, operation in operations()}
    assert {route for route, required in security.items() if required == []} == PUBLIC
    assert all(required == [{"bearerAuth": []}] for route, required in security.items() if route not in PUBLIC)


@pytest.mark.parametrize(
    ("schema", "names"),
    [
        ("Timeframe", {"1m": "ONE_MINUTE", "1h": "ONE_HOUR", "1w": "ONE_WEEK"}),
        ("Role", {"user": "USER", "admin": "ADMIN"}),
        ("Direction", {"BUY": "BUY", "SELL": "SELL"}),
        ("SignalStatus", {"OPEN": "OPEN", "EXPIRED": "EXPIRED"}),
        ("PlanCode", {"free": "FREE", "enterprise": "ENTERPRISE"}),
        ("SubscriptionStatus", {"PAST_DUE": "PAST_DUE"}),
    ],
)
def test_enums_are_named_schemas_whose_members_read_as_their_values(schema, names):
    enum = DOCUMENT["components"]["schemas"][schema]
    members = dict(zip(enum["enum"], enum["x-enum-varnames"], strict=True))
    assert {value: members[value] for value in names} == names


def test_enums_are_referenced_not_repeated_inline():
    # Given every enum the document spells out
    text = json.dumps(DOCUMENT["paths"]) + json.dumps(DOCUMENT["components"]["schemas"])
    named = {schema: body["enum"] for schema, body in DOCUMENT["components"]["schemas"].items() if "enum" in body}
    # Then a named enum's values are listed once, in its own schema
    for schema, values in named.items():
        assert text.count(f'"enum": {json.dumps(values)}') == 1, schema


def _is_date_time(schema: dict[str, Any]) -> bool | None:
    """Whether a string schema (or a nullable one) is a date-time; None for other types."""
    options = [option for option in schema.get("anyOf", [schema]) if option.get("type") == "string"]
    return any(option.get("format") == "date-time" for option in options) if options else None


def test_every_timestamp_is_a_date_time():
    # Given every string field and parameter named like a moment
    timestamp = re.compile(r"(_at|_start|_end|^timestamp|^created_from|^created_to)$")
    found = [
        (name, field, _is_date_time(spec))
        for name, schema in DOCUMENT["components"]["schemas"].items()
        for field, spec in schema.get("properties", {}).items()
        if timestamp.search(field) and _is_date_time(spec) is not None
    ]
    found += [
        (route, parameter["name"], _is_date_time(parameter["schema"]))
        for route, operation in operations()
        for parameter in operation.get("parameters", [])
        if timestamp.search(parameter["name"])
    ]
    assert len(found) > 15
    # Then each is a date-time
    assert [(where, field) for where, field, is_date_time in found if not is_date_time] == []


def test_errors_are_documented_where_they_can_happen():
    for route, operation in operations():
        statuses = set(operation["responses"])
        assert {"400", "422", "500", "503"} <= statuses, route
        assert ("413" in statuses) == ("415" in statuses) == ("requestBody" in operation), route
        assert ("429" in statuses) == is_rate_limited(operation), route
        if operation["security"]:
            assert {"401", "403"} <= statuses, route


def _headers(response: dict[str, Any]) -> set[str]:
    return set(response.get("headers", {}))


def _header_schema(response: dict, name: str) -> dict:
    ref = response["headers"][name]["$ref"].rsplit("/", 1)[-1]
    return DOCUMENT["components"]["headers"][ref]


def test_response_headers_are_documented_where_they_are_sent():
    for route, operation in operations():
        rate_limited = is_rate_limited(operation)
        for status, response in operation["responses"].items():
            headers = _headers(response)
            assert "X-Correlation-ID" in headers, (route, status)
            assert ({"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= headers) == rate_limited
            assert ("Retry-After" in headers) == (status in ("423", "429", "503")), (route, status)
            if status == "503":  # sent only when the request failed before anything was committed
                assert "required" not in _header_schema(response, "Retry-After"), route
    # WWW-Authenticate goes with a 401 for a bearer token or credentials, not with a bad webhook signature
    assert "WWW-Authenticate" in _headers(DOCUMENT["paths"]["/v1/signals"]["get"]["responses"]["401"])
    assert "WWW-Authenticate" in _headers(DOCUMENT["paths"]["/v1/auth/login"]["post"]["responses"]["401"])
    webhook = DOCUMENT["paths"]["/v1/billing/webhooks/payments"]["post"]
    assert "WWW-Authenticate" not in _headers(webhook["responses"]["401"])


def test_idempotent_creates_document_the_key_and_the_replay_header():
    replaying = {
        route
        for route, operation in operations()
        for status, response in operation["responses"].items()
        if "Idempotent-Replayed" in _headers(response)
    }
    taking_the_key = {
        route
        for route, operation in operations()
        if any(parameter["name"] == "Idempotency-Key" for parameter in operation.get("parameters", []))
    }
    assert replaying == taking_the_key == {"POST /v1/signals", "PUT /v1/billing/subscription"}


def test_the_webhook_documents_its_signed_body():
    webhook = DOCUMENT["paths"]["/v1/billing/webhooks/payments"]["post"]
    assert webhook["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaymentEvent"
    }
    [signature] = [parameter for parameter in webhook["parameters"] if parameter["in"] == "header"]
    assert (signature["name"], signature["required"]) == ("X-Signature", True)
    data = DOCUMENT["components"]["schemas"]["PaymentEvent"]["properties"]["data"]
    assert {"user_id", "plan", "period_end"} <= set(data["properties"])


def test_error_details_are_typed():
    body = DOCUMENT["components"]["schemas"]["ErrorBody"]["properties"]
    assert body["details"]["anyOf"] == [
        {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
        {"type": "null"},
    ]


def _taking(header: str) -> set[str]:
    return {
        route
        for route, operation in operations()
        if any(
            parameter["name"] == header and parameter["in"] == "header" for parameter in operation.get("parameters", [])
        )
    }


def test_conditional_requests_document_their_headers_and_answers():
    # The three reads with an ETag take If-None-Match, and may answer 304 with the ETag (as their 200 does)
    reads = {"GET /v1/signals/{id}", "GET /v1/users/me", "GET /v1/billing/subscription"}
    assert _taking("If-None-Match") == reads
    # The four changes take If-Match, and may answer 412 with the envelope
    writes = {"PATCH /v1/signals/{id}", "DELETE /v1/signals/{id}", "POST /v1/signals/{id}/close", "PATCH /v1/users/me"}
    assert _taking("If-Match") == writes
    for route, operation in operations():
        responses = operation["responses"]
        assert ("304" in responses) == (route in reads), route
        assert ("412" in responses) == (route in writes), route
        for status, response in responses.items():
            sends_etag = route in reads and status in ("200", "304")
            assert ("ETag" in _headers(response)) == sends_etag, (route, status)
        if route in writes:
            assert responses["412"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorEnvelope"
            }
    assert _header_schema(DOCUMENT["paths"]["/v1/users/me"]["get"]["responses"]["304"], "ETag")["required"] is True
