"""OpenAPI-driven fuzzing (schemathesis) of the whole API through the local gateway: every phase.

What `st run` does on the served document: its examples, the coverage phase's edge values, random valid
and invalid requests, then stateful chains along the document's links. Every check is on but
positive_data_acceptance (tests/http/test_strict_document.py's, by error code), and every operation must
have answered a success at least once. The caller is an administrator on the enterprise plan, rate limits
are off; logout and password changes each get a fresh session and stay out of the chains; the webhook's
body is signed as the provider signs it; every other valid signal change, close, login and password change
is given the state its success needs, so that coverage does not hang on chance.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from invest_dev.openapi import BUNDLED
from investment_system.schemas.users import EXAMPLE_PASSWORD
from tests.support.served_api import WEBHOOK_PATH, ServedApi, provider_signature
from tests.support.signals import buy_body

SESSION_ENDING = ("logout", "changePassword")
MAX_EXAMPLES = 25


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApi]:
    served = ServedApi(tmp_path_factory.mktemp("fuzz"), RATE_LIMIT_ENABLED="false")
    yield served
    assert served.stop() == 0


def _run(api: ServedApi, config: dict[str, Any], admin_token: str) -> tuple[Counter[tuple[str, int]], list[str]]:
    """Run every phase on the served document as the administrator, the session-ending operations each in a
    session of its own; the statuses each operation answered (its own method's) and the failed checks."""
    schema = schemathesis.openapi.from_path(BUNDLED, config=SchemathesisConfig.from_dict(config))

    @schema.auth.auth(refresh_interval=None).apply_to(operation_id=list(SESSION_ENDING))
    class FreshSession:
        def get(self, case: Any, context: Any) -> str:
            return str(api.new_user("session")[1]["access_token"])

        def set(self, case: Any, token: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}

    @schema.auth.auth().skip_for(operation_id=list(SESSION_ENDING))
    class Administrator:
        def get(self, case: Any, context: Any) -> str:
            return admin_token

        def set(self, case: Any, token: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}

    statuses: Counter[tuple[str, int]] = Counter()
    failures: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.FatalError | events.NonFatalError):
            failures.append(f"error: {event.info.format() if hasattr(event, 'info') else event}")
        if not isinstance(event, events.ScenarioFinished):
            continue
        recorder = event.recorder
        for case_id, interaction in recorder.interactions.items():
            case = recorder.cases[case_id].value
            if interaction.response is not None and case.method.upper() == case.operation.method.upper():
                statuses[(case.operation.label, interaction.response.status_code)] += 1
        failures += [
            f"{check.name} on {recorder.cases[case_id].value.operation.label}: {check.failure_info.failure.title}"
            f"\n{recorder.cases[case_id].value.as_curl_command()}"
            for case_id, checks in recorder.checks.items()
            for check in checks
            if check.status is Status.FAILURE and check.failure_info is not None
        ]
    return statuses, failures


def test_every_phase_covers_every_operation_within_its_contract(api):
    # Given an administrator on the enterprise plan, and the account the document's login example names
    _, admin = api.new_admin_on_plan("enterprise")
    api.post("/v1/auth/register", {"email": "ada@example.com", "password": EXAMPLE_PASSWORD})

    bearer = {"Authorization": f"Bearer {admin['access_token']}"}

    def open_signal() -> str:
        created = api.post("/v1/signals", buy_body(), **bearer)
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    def change_an_open_signal(case: Any) -> None:
        # Levels cleared (null is a documented value), the expiry kept, whatever version is current
        body = case.body if isinstance(case.body, dict) else {}
        kept = {name: value for name, value in body.items() if name != "expires_at"}
        case.path_parameters = {**(case.path_parameters or {}), "id": open_signal()}
        case.body = {**kept, "target_price": None, "stop_loss": None}
        case.headers = {**(case.headers or {}), "If-Match": "*"}

    def close_an_open_signal(case: Any) -> None:
        case.path_parameters = {**(case.path_parameters or {}), "id": open_signal()}
        case.body = {"exit_price": "190"}
        case.headers = {**(case.headers or {}), "If-Match": "*"}

    def log_in_as_a_new_account(case: Any) -> None:
        user, _ = api.new_user("login")
        case.body = {"email": user["email"], "password": EXAMPLE_PASSWORD}

    def change_the_current_password(case: Any) -> None:
        case.body = {"current_password": EXAMPLE_PASSWORD, "new_password": f"fuzzed-{uuid.uuid4().hex}"}

    # Every other valid request of the operations whose success needs the right state (an open signal of the
    # caller's at its current version, an account with that password and no lockout) is given that state:
    # random ids, levels, expiries, ETags and passwords rarely meet it, which left a success untried in some
    # runs. The other half stay as generated.
    in_right_state = {
        "PATCH /v1/signals/{id}": change_an_open_signal,
        "POST /v1/signals/{id}/close": close_an_open_signal,
        "POST /v1/auth/login": log_in_as_a_new_account,
        "POST /v1/users/me/password": change_the_current_password,
    }
    turns: Counter[str] = Counter()

    def as_sent(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
        label = f"{case.operation.method.upper()} {case.operation.path}"
        valid = case.meta is not None and case.meta.generation.mode.is_positive
        if valid and label in in_right_state:
            turns[label] += 1
            if turns[label] % 2 == 1:
                in_right_state[label](case)
        if case.operation.path == WEBHOOK_PATH and isinstance(case.body, dict):
            # Sent as the very bytes signed.
            kwargs["data"] = json.dumps(case.body).encode()
            case.headers = {**(case.headers or {}), "X-Signature": provider_signature(kwargs["data"], int(time.time()))}

    schemathesis.hook("before_call")(as_sent)
    # When every phase runs on the served document
    try:
        statuses, failures = _run(
            api,
            {
                "base-url": api.base_url,
                "workers": 1,
                "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
                "checks": {"positive_data_acceptance": {"enabled": False}},
                # Chains of valid requests, longer than the default run: a change to a signal must meet its levels,
                # state and version, which few random requests do.
                "phases": {"stateful": {"generation": {"mode": "positive", "max-examples": 4 * MAX_EXAMPLES}}},
                # The document's example password now and then, so that sign-ups pass the password policy and
                # chains go on to log in and refresh, and a password change names the current one.
                # `If-Match: *` (whatever version is current) now and then, and an expiry that lies ahead: a random
                # ETag is stale and a random date-time mostly past, which would leave changes to signals untried.
                "dictionaries": {
                    "passwords": {"values": [EXAMPLE_PASSWORD]},
                    # Addresses nobody has yet (the example's is taken, by the login example's account).
                    "new_emails": {"values": [f"fuzz-{n:03d}@example.com" for n in range(200)]},
                    "any_version": {"values": ["*"]},
                    "far_future": {"values": ["2999-12-31T23:59:59Z"]},
                },
                "parameters": {
                    "header.If-Match": {"dictionary": "any_version", "probability": 0.8},
                    "body.expires_at": {"dictionary": "far_future", "probability": 0.8},
                },
                "operations": [
                    *(
                        {"include-operation-id": operation_id, "phases": {"stateful": {"enabled": False}}}
                        for operation_id in SESSION_ENDING
                    ),
                    # Its path is also /v1/signals/{id} with the id "analytics": another method reaches that
                    # route (as API Gateway routes it), which answers as for an unknown signal, not 405.
                    {
                        "include-operation-id": "getSignalAnalytics",
                        "checks": {"unsupported_method": {"enabled": False}},
                    },
                    # The provider's event: its data is checked only for the types applied, any other event is
                    # kept as sent (the operation's description says so), so the documented data is no refusal.
                    {
                        "include-operation-id": "receivePaymentEvent",
                        "checks": {"negative_data_rejection": {"enabled": False}},
                    },
                    # A change to a signal must also meet the signal's levels and state: more tries.
                    {"include-operation-id": "updateSignal", "generation": {"max-examples": 3 * MAX_EXAMPLES}},
                    {
                        "include-operation-id": "register",
                        "parameters": {
                            "body.password": {"dictionary": "passwords", "probability": 0.5},
                            "body.email": {"dictionary": "new_emails", "probability": 0.5},
                        },
                    },
                    {
                        "include-operation-id": "changePassword",
                        "parameters": {"body.current_password": {"dictionary": "passwords", "probability": 0.5}},
                    },
                ],
            },
            admin["access_token"],
        )
    finally:
        schemathesis.hooks.GLOBAL_HOOK_DISPATCHER.unregister(as_sent)
    print("fuzz statuses:", json.dumps(sorted([*key, count] for key, count in statuses.items())))

    # Then no check failed: no 5xx, nothing undocumented, no invalid input accepted
    assert failures == [], "\n\n".join(failures[:20])
    assert [key for key in statuses if key[1] >= 500] == []
    # And every operation answered a success at least once
    operations = {
        f"{method.upper()} {path}"
        for path, methods in json.loads(BUNDLED.read_text())["paths"].items()
        for method in methods
    }
    succeeded = {label for label, status in statuses if 200 <= status < 300}
    assert sorted(operations - succeeded) == []
