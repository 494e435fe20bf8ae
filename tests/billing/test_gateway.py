"""Billing, quotas, rate limits and idempotency over HTTP, through the local gateway (`invest serve`), on
SQLite, PostgreSQL and MariaDB, and through `sam local start-api` (make test-sam).

The gateway runs each function in worker processes of its own, as Lambda runs containers; with the
`memory` backend they all count in the one store the gateway shares between them, so a client's
limit is the same however its requests are spread over functions and containers.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests

from tests.support.billing import paying, payment_event, signature, time_passes
from tests.support.gateway import RunningGateway, invest_serve_command
from tests.support.signals import Investor, buy_body, make_investor

pytestmark = pytest.mark.slow


@pytest.fixture
def api(db) -> Iterator[RunningGateway]:
    """The gateway serving the test's database (clean and migrated, on each backend)."""
    gateway = RunningGateway(invest_serve_command(), {**os.environ, "DATABASE_URL": db.url})
    yield gateway
    assert gateway.stop() == 0


def _call(api: RunningGateway, method: str, path: str, who: Investor | None = None, **kwargs) -> requests.Response:
    headers = {**kwargs.pop("headers", {}), **(who.headers if who else {})}
    # sam local starts a function's container, building its image, on the function's first request.
    return requests.request(method, api.url(path), headers=headers, timeout=120, **kwargs)


def _deliver(api: RunningGateway, body: str, signature_header: str | None = None) -> requests.Response:
    headers = {"Content-Type": "application/json", "X-Signature": signature_header or signature(body)}
    return _call(api, "POST", "/v1/billing/webhooks/payments", data=body, headers=headers)


def _quotas(api: RunningGateway, who: Investor) -> tuple[int, int]:
    usage = _call(api, "GET", "/v1/billing/usage", who).json()
    return usage["signals_per_day"], usage["requests_per_minute"]


def test_a_plan_is_bought_with_a_checkout_and_a_signed_payment(api):
    # Given a new user, on free
    investor = make_investor()
    plans = _call(api, "GET", "/v1/billing/plans")
    assert [plan["code"] for plan in plans.json()["items"]] == ["free", "pro", "enterprise"]
    subscription = _call(api, "GET", "/v1/billing/subscription", investor)
    assert (subscription.json()["plan"]["code"], subscription.json()["status"]) == ("free", "ACTIVE")
    assert (subscription.headers["Cache-Control"], subscription.headers["RateLimit-Limit"]) == ("no-store", "60")
    # When they ask for pro with an Idempotency-Key, twice
    key = {"Idempotency-Key": f"upgrade-{uuid.uuid4()}"}
    first = _call(api, "PUT", "/v1/billing/subscription", investor, json={"plan": "pro"}, headers=key)
    again = _call(api, "PUT", "/v1/billing/subscription", investor, json={"plan": "pro"}, headers=key)
    # Then one checkout is started, replayed the second time, and nothing else changes
    assert (first.status_code, again.status_code) == (202, 202)
    assert (again.headers["Idempotent-Replayed"], again.json()) == ("true", first.json())
    checkout = first.json()["checkout"]
    assert (checkout["plan"], checkout["amount_cents"], checkout["status"]) == ("pro", 2900, "PENDING")
    assert _quotas(api, investor) == (10, 60)
    other = _call(api, "PUT", "/v1/billing/subscription", investor, json={"plan": "enterprise"}, headers=key)
    assert (other.status_code, other.json()["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    # And a forged payment changes nothing
    body = payment_event("invoice.paid", investor.user_id, **paying(checkout))
    forged = _deliver(api, body, "t=1,v1=00")
    assert (forged.status_code, forged.json()["error"]["code"]) == (401, "WEBHOOK_SIGNATURE_INVALID")
    assert _quotas(api, investor) == (10, 60)
    # When the provider's signed invoice.paid names the checkout, delivered twice
    for _ in range(2):
        delivered = _deliver(api, body)
        assert (delivered.status_code, delivered.json()) == (200, {"received": True, "applied": True})
        assert "RateLimit-Limit" not in delivered.headers
    # Then the user is on pro, with its quotas, and nothing pending
    subscription = _call(api, "GET", "/v1/billing/subscription", investor).json()
    assert (subscription["plan"]["code"], subscription["pending_checkout"]) == ("pro", None)
    assert _quotas(api, investor) == (500, 600)


def test_downgrades_cancellations_and_dunning_take_effect_when_due(api):
    # Given a pro user who asks for free: scheduled for the period's end
    investor = make_investor()
    paid = _deliver(api, payment_event("invoice.paid", investor.user_id, plan="pro"))
    assert paid.status_code == 200
    scheduled = _call(api, "PUT", "/v1/billing/subscription", investor, json={"plan": "free"}).json()
    assert scheduled["scheduled_change"]["plan"] == "free"
    assert (scheduled["plan"]["code"], _quotas(api, investor)) == ("pro", (500, 600))
    # When the period is over: free, with its quotas, nothing scheduled (no scheduled run needed)
    time_passes(investor.user_id, timedelta(days=31))
    assert _quotas(api, investor) == (10, 60)
    after = _call(api, "GET", "/v1/billing/subscription", investor).json()
    assert (after["plan"]["code"], after["status"], after["scheduled_change"]) == ("free", "ACTIVE", None)

    # Given another pro user who cancels: the plan holds until the period ends, then CANCELED on free
    leaving = make_investor("leaving")
    _deliver(api, payment_event("invoice.paid", leaving.user_id, plan="pro"))
    canceled = _call(api, "DELETE", "/v1/billing/subscription", leaving).json()
    assert (canceled["cancel_at_period_end"], canceled["plan"]["code"]) == (True, "pro")
    time_passes(leaving.user_id, timedelta(days=31))
    after = _call(api, "GET", "/v1/billing/subscription", leaving).json()
    assert (after["status"], after["plan"]["code"]) == ("CANCELED", "free")

    # Given a pro user whose payment failed: PAST_DUE, pro's quotas through the grace period, then free
    late = make_investor("late")
    _deliver(api, payment_event("invoice.paid", late.user_id, plan="pro"))
    assert _deliver(api, payment_event("invoice.payment_failed", late.user_id)).status_code == 200
    time_passes(late.user_id, timedelta(days=6))
    assert _call(api, "GET", "/v1/billing/subscription", late).json()["status"] == "PAST_DUE"
    assert _quotas(api, late) == (500, 600)
    time_passes(late.user_id, timedelta(days=2))
    assert _quotas(api, late) == (10, 60)
    after = _call(api, "GET", "/v1/billing/subscription", late).json()
    assert (after["status"], after["plan"]["code"]) == ("CANCELED", "free")


def test_an_unpaid_upgrade_does_not_raise_the_daily_quota(api):
    investor = make_investor()
    assert _call(api, "PUT", "/v1/billing/subscription", investor, json={"plan": "enterprise"}).status_code == 202
    created = [_call(api, "POST", "/v1/signals", investor, json=buy_body()).status_code for _ in range(10)]
    assert created == [201] * 10
    refused = _call(api, "POST", "/v1/signals", investor, json=buy_body())
    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "QUOTA_EXCEEDED")
    assert int(refused.headers["Retry-After"]) >= 1


def test_a_parallel_client_gets_the_same_limit_as_a_serial_one(api):
    # Given two free users (60 requests a minute)
    serial, parallel = make_investor("serial"), make_investor("parallel")
    paths = ["/v1/billing/usage", "/v1/billing/subscription", "/v1/signals", "/v1/users/me"]
    # When one sends 75 requests one after the other, and the other 150 on 10 connections at once,
    # spread over four functions (several containers each)
    serial_statuses = [_call(api, "GET", paths[n % 4], serial).status_code for n in range(75)]
    with ThreadPoolExecutor(10) as pool:
        replies = list(pool.map(lambda n: _call(api, "GET", paths[n % 4], parallel), range(150)))
    # Then each got exactly 60 through
    assert Counter(serial_statuses) == {200: 60, 429: 15}
    assert Counter(reply.status_code for reply in replies) == {200: 60, 429: 90}
    # And every refusal says when to come back: when the oldest of the 60 leaves the window
    refusal = next(reply for reply in replies if reply.status_code == 429)
    assert refusal.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert (refusal.headers["RateLimit-Limit"], refusal.headers["RateLimit-Remaining"]) == ("60", "0")
    assert refusal.headers["Retry-After"] == refusal.headers["RateLimit-Reset"]
    assert 1 <= int(refusal.headers["Retry-After"]) <= 61


def test_health_is_not_rate_limited(api):
    reply = _call(api, "GET", "/v1/health")
    assert reply.status_code == 200
    assert "RateLimit-Limit" not in reply.headers
    assert reply.json()["dependencies"]["rate_limiter"]["status"] == "up"


# Through `sam local start-api` as well (make test-sam), every billing function in its runtime container on
# the PostgreSQL database sam serves; not the rate-limit scenario: sam's memory limiter counts per container
# (a deploy's is Redis or DynamoDB, shared by every container).
@pytest.mark.sam
@pytest.mark.parametrize(
    "scenario",
    [
        test_a_plan_is_bought_with_a_checkout_and_a_signed_payment,
        test_downgrades_cancellations_and_dunning_take_effect_when_due,
        test_an_unpaid_upgrade_does_not_raise_the_daily_quota,
        test_health_is_not_rate_limited,
    ],
    ids=lambda scenario: scenario.__name__.removeprefix("test_"),
)
def test_through_sam_local(sam_api, sam_api_database, scenario):
    scenario(sam_api)
