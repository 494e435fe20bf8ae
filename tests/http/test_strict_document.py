"""The OpenAPI document is as strict as the server: every request it calls valid, the server accepts.

For each operation, schemathesis generates requests from the served document alone (positive data:
bodies, query, path and header parameters that match every schema) and sends them to the local
gateway, signed in as a user (an administrator for the admin routes; the webhook signed as the payment
provider signs). The server may still refuse one for a rule of the business, which the document
describes in words and documents the status of (a quota, a state conflict, an unknown id, BUY/SELL
levels, a password policy, an opaque cursor): never as invalid input, never with a 5xx. A constraint
the server checks and the document does not state, or states looser, fails here.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from invest_dev.openapi import BUNDLED
from investment_system.schemas.users import SPECIAL_USE_DOMAINS
from tests.support.served_api import WEBHOOK_PATH, ServedApi, bearer, provider_signature

# The codes of a request refused as malformed or invalid: a document that lets a client build one is
# looser than the server.
INVALID_INPUT = {
    "VALIDATION_ERROR",
    "MALFORMED_JSON",
    "UNSUPPORTED_MEDIA_TYPE",
    "PAYLOAD_TOO_LARGE",
    "INVALID_QUERY_PARAMETER",
    "INVALID_IDEMPOTENCY_KEY",
}
# Operations that end the caller's session: each request gets a session of its own.
SESSION_ENDING = {"logout"}

# The provider's event takes fields it does not describe, and refuses a NUL in any text of them (it is stored
# as sent): a rule only a recursive schema states, which client generators refuse. So no NUL is drawn there.
schema = schemathesis.openapi.from_path(
    BUNDLED,
    config=SchemathesisConfig.from_dict(
        {"operations": [{"include-operation-id": "receivePaymentEvent", "generation": {"allow-x00": False}}]}
    ),
)
OPERATIONS = [result.ok() for result in schema.get_all_operations()]
DOCUMENT = json.loads(BUNDLED.read_text())


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_model_names_follow_one_scheme():
    # Then no schema carries a role suffix: a resource is named as such, a request by what it does
    names = DOCUMENT["components"]["schemas"]
    assert [name for name in names if re.search(r"(Out|In|Request|Response)$", name)] == []
    assert {"Signal", "SignalCreate", "SignalUpdate", "SignalPage", "User", "UserUpdate", "UserRegistration"} <= set(
        names
    )


def test_a_responses_numbers_are_the_contracts_ratios_and_every_price_is_a_decimal_string():
    # Given the properties of the response bodies that may be a JSON number
    numbers = {
        f"{name}.{field}"
        for name, component in DOCUMENT["components"]["schemas"].items()
        if not name.endswith(("Create", "Update", "Close", "Change"))
        for field, prop in component.get("properties", {}).items()
        if any(node.get("type") == "number" for node in _walk(prop))
    }
    # Then they are confidence and the ratios from 0 to 1, and the health check's latency: prices and returns
    # are decimal strings
    assert numbers == {
        "Signal.confidence",
        "SignalAnalytics.average_confidence",
        "ClosedStats.win_rate",
        "SymbolStats.win_rate",
        "DependencyStatus.latency_ms",
    }


def test_every_path_id_is_a_uuid():
    ids = [
        (path, parameter["schema"].get("format"))
        for path, operations in DOCUMENT["paths"].items()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path"
    ]
    assert len(ids) == 6
    assert {form for _, form in ids} == {"uuid"}, ids


def test_the_responses_that_give_an_id_link_to_every_operation_on_it():
    # Given the operations that take a signal's id or a user's id in their path
    by_id: dict[str, set[str]] = {}
    for methods in DOCUMENT["paths"].values():
        for operation in methods.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    by_id.setdefault(parameter["name"], set()).add(operation["operationId"])
    operations = {
        operation["operationId"]: operation for methods in DOCUMENT["paths"].values() for operation in methods.values()
    }

    def linked(operation_id: str, status: str) -> set[str]:
        return {link["operationId"] for link in operations[operation_id]["responses"][status]["links"].values()}

    # Then creating and listing signals link to each of a signal's operations, listing users to a user's
    assert linked("createSignal", "201") == linked("listSignals", "200") == by_id["id"]
    assert linked("listUsers", "200") == by_id["user_id"] < linked("register", "201")
    # And signing up links to logging in, and a token pair to refreshing it, with the body they need
    assert linked("register", "201") >= {"login"}
    assert linked("login", "200") == linked("refreshTokens", "200") == {"refreshTokens"}
    # And each link names an operation of the document and takes its values from the exchange
    for operation in operations.values():
        for response in operation["responses"].values():
            for link in response.get("links", {}).values():
                assert link["operationId"] in operations
                values = [*link.get("parameters", {}).values(), *link.get("requestBody", {}).values()]
                assert values
                assert all(
                    value.startswith(("$response.body#/", "$request.body#/", "$response.header.")) for value in values
                )


def test_the_emails_pattern_refuses_the_special_use_domains_email_validator_refuses():
    import email_validator

    assert set(SPECIAL_USE_DOMAINS) == set(email_validator.SPECIAL_USE_DOMAIN_NAMES)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApi]:
    # No rate limit: it would refuse generated requests for their number, which is not what is tested.
    served = ServedApi(tmp_path_factory.mktemp("strict-document"), RATE_LIMIT_ENABLED="false")
    yield served
    assert served.stop() == 0


@pytest.fixture(scope="module")
def admin(api: ServedApi) -> dict[str, Any]:
    return api.new_admin()


def _send(api: ServedApi, operation: Any, case: Any, tokens: dict[str, Any]) -> requests.Response:
    request = case.as_transport_kwargs(base_url=api.base_url)
    request["headers"] = {
        name: value for name, value in request["headers"].items() if name not in ("Authorization", "X-Signature")
    }
    if operation.path == WEBHOOK_PATH:
        body = json.dumps(request.pop("json")).encode()
        request["data"] = body
        request["headers"]["X-Signature"] = provider_signature(body, int(time.time()))
    elif operation.definition.raw.get("security"):
        request["headers"] |= bearer(tokens)
    return requests.request(**request, timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_every_request_the_document_calls_valid_is_accepted(operation, api, admin):
    operation_id = operation.definition.raw["operationId"]
    documented = set(operation.definition.raw["responses"])
    # Given a user of their own for this operation (an administrator for the admin routes)
    tokens = admin if operation.path.startswith("/v1/admin/") else api.new_user(operation_id)[1]

    @settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def accepted(case: Any) -> None:
        caller = tokens if operation_id not in SESSION_ENDING else api.new_user("session")[1]
        # When a request the document calls valid is sent
        response = _send(api, operation, case, caller)
        # Then it is done, or refused for a documented rule of the business, never as invalid input
        refusal = response.json()["error"] if response.status_code >= 400 else None
        assert response.status_code < 500, response.text
        assert str(response.status_code) in documented, response.text
        assert refusal is None or refusal["code"] not in INVALID_INPUT, (
            f"{operation.label} refused a request its document calls valid: {refusal}\n{case.as_curl_command()}"
        )

    accepted()
