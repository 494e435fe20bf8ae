"""Billing, quotas, rate limits and idempotency over HTTP, through the local gateway (`invest serve`).

The gateway runs each function in a worker process of its own, as Lambda runs containers, so the
limits are shared through the real Redis here (RATE_LIMIT_BACKEND=redis), as they would be through
DynamoDB in AWS.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import requests
from account_support import PASSWORD
from billing_support import payment_event, signature
from gateway_support import RunningGateway, invest_serve_command, migrated_api_environment
from signal_support import buy_body

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    workdir = tmp_path_factory.mktemp("billing-gateway")
    env = migrated_api_environment(
        workdir,
        RATE_LIMIT_BACKEND="redis",
        REDIS_URL="redis://127.0.0.1:6379/0",
        # Every request of this module comes from 127.0.0.1, like other runs' on this machine.
        RATE_LIMIT_ANONYMOUS_PER_MINUTE="100000",
    )
    gateway = RunningGateway(invest_serve_command(), env)
    yield gateway
    assert gateway.stop() == 0


@pytest.fixture(autouse=True)
def within_one_window() -> None:
    """Counts reset each minute: a test that counts requests starts at least 15 s before a reset."""
    left = 60 - time.time() % 60
    if left < 15:
        time.sleep(left + 0.05)


def _call(api: RunningGateway, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
    headers = {**kwargs.pop("headers", {}), **({"Authorization": f"Bearer {token}"} if token else {})}
    return requests.request(method, api.url(path), headers=headers, timeout=30, **kwargs)


def _signed_up(api: RunningGateway) -> tuple[str, str]:
    """A new account: its id and an access token."""
    email = f"billing-{uuid.uuid4().hex[:8]}@example.com"
    user = _call(api, "POST", "/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert user.status_code == 201, user.text
    tokens = _call(api, "POST", "/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    return user.json()["id"], tokens.json()["access_token"]


def test_plans_are_public_and_a_new_user_is_on_free(api):
    plans = _call(api, "GET", "/v1/billing/plans")
    assert plans.status_code == 200
    assert [plan["code"] for plan in plans.json()["items"]] == ["free", "pro", "enterprise"]
    assert plans.headers["RateLimit-Limit"] == "100000"
    _, token = _signed_up(api)
    subscription = _call(api, "GET", "/v1/billing/subscription", token)
    assert subscription.status_code == 200
    assert (subscription.json()["plan"]["code"], subscription.json()["status"]) == ("free", "ACTIVE")
    assert subscription.headers["Cache-Control"] == "no-store"
    assert subscription.headers["RateLimit-Limit"] == "60"


def test_upgrade_with_an_idempotency_key_then_cancel(api):
    _, token = _signed_up(api)
    key = {"Idempotency-Key": f"upgrade-{uuid.uuid4()}"}
    first = _call(api, "PUT", "/v1/billing/subscription", token, json={"plan": "pro"}, headers=key)
    again = _call(api, "PUT", "/v1/billing/subscription", token, json={"plan": "pro"}, headers=key)
    assert (first.status_code, again.status_code) == (200, 200)
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = _call(api, "PUT", "/v1/billing/subscription", token, json={"plan": "enterprise"}, headers=key)
    assert (other.status_code, other.json()["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    usage = _call(api, "GET", "/v1/billing/usage", token).json()
    assert (usage["signals_per_day"], usage["requests_per_minute"]) == (500, 600)
    canceled = _call(api, "DELETE", "/v1/billing/subscription", token)
    assert (canceled.status_code, canceled.json()["cancel_at_period_end"]) == (200, True)


def test_the_daily_signal_quota_over_http(api):
    _, token = _signed_up(api)
    created = [_call(api, "POST", "/v1/signals", token, json=buy_body()).status_code for _ in range(10)]
    assert created == [201] * 10
    refused = _call(api, "POST", "/v1/signals", token, json=buy_body())
    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "QUOTA_EXCEEDED")
    assert int(refused.headers["Retry-After"]) >= 1
    assert _call(api, "GET", "/v1/billing/usage", token).json()["signals_created"] == 10


def test_the_per_user_limit_holds_across_functions(api):
    # Given a free user (60 requests a minute), whose requests go to two different functions
    _, token = _signed_up(api)
    paths = ["/v1/billing/usage", "/v1/billing/subscription"]
    # When they make 60 requests (the login before them counted per IP, not for the user)
    statuses = [_call(api, "GET", paths[n % 2], token).status_code for n in range(60)]
    # Then all are served, and the 61st, whichever function gets it, is refused
    assert statuses == [200] * 60
    refused = _call(api, "GET", "/v1/signals", token)
    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "RATE_LIMIT_EXCEEDED")
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["Retry-After"] == refused.headers["RateLimit-Reset"]


def test_a_signed_payment_event_is_applied_once_and_a_forged_one_refused(api):
    user_id, token = _signed_up(api)
    body = payment_event("invoice.payment_failed", uuid.UUID(user_id))
    headers = {"Content-Type": "application/json"}
    forged = _call(
        api, "POST", "/v1/billing/webhooks/payments", data=body, headers={**headers, "X-Signature": "t=1,v1=00"}
    )
    assert (forged.status_code, forged.json()["error"]["code"]) == (401, "WEBHOOK_SIGNATURE_INVALID")
    for _ in range(2):
        delivered = _call(
            api, "POST", "/v1/billing/webhooks/payments", data=body, headers={**headers, "X-Signature": signature(body)}
        )
        assert (delivered.status_code, delivered.json()) == (200, {"received": True})
        assert "RateLimit-Limit" not in delivered.headers
    assert _call(api, "GET", "/v1/billing/subscription", token).json()["status"] == "PAST_DUE"


def test_health_is_not_rate_limited(api):
    reply = _call(api, "GET", "/v1/health")
    assert reply.status_code == 200
    assert "RateLimit-Limit" not in reply.headers
    assert reply.json()["dependencies"]["rate_limiter"]["status"] == "up"
