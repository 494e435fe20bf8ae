"""OpenAPI-driven fuzzing (schemathesis) of the whole API through the local gateway.

Every operation of the generated document gets generated requests, valid and invalid; the checks
are schemathesis' defaults (no 5xx, every status code, content type, header and body documented,
invalid data rejected) except `positive_data_acceptance`: the contract has rules no JSON Schema can
state (password policy, BUY/SELL price levels, expiry in the future: 422; opaque cursors: 400), so
schema-valid requests are legitimately refused.
Rate limiting is off for this server (it would answer most generated requests with 429; it has its
own tests); everything else is the real stack on a fresh SQLite database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from invest_dev.openapi import BUNDLED
from tests.support.gateway import RunningGateway, invest_serve_command, migrated_api_environment

PASSWORD = "Fuzz-Password-2026!"


@pytest.fixture(scope="module")
def fuzz_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    workdir = tmp_path_factory.mktemp("fuzz")
    gateway = RunningGateway(invest_serve_command(), migrated_api_environment(workdir, RATE_LIMIT_ENABLED="false"))
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def bearer(fuzz_gateway: RunningGateway) -> dict[str, str]:
    """A registered user's access token, sent with every generated request."""
    email = f"fuzz-{uuid.uuid4().hex[:8]}@example.com"
    registered = requests.post(
        fuzz_gateway.url("/v1/auth/register"), json={"email": email, "password": PASSWORD}, timeout=30
    )
    assert registered.status_code == 201, registered.text
    login = requests.post(fuzz_gateway.url("/v1/auth/login"), json={"email": email, "password": PASSWORD}, timeout=30)
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


# The document the API serves at /v1/openapi.json (a unit test keeps the bundled copy current).
schema = schemathesis.openapi.from_path(BUNDLED)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_within_its_documented_contract(case, bearer, fuzz_gateway):
    case.call_and_validate(base_url=fuzz_gateway.base_url, headers=bearer, excluded_checks=[positive_data_acceptance])
