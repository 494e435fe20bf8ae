"""Rate limits through the functions' handlers: per user by plan, per client IP, exemptions, outages."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from invest_dev.events import LambdaContextStub, http_event
from invest_dev.samples import session_tokens
from investment_system.services.accounts.tokens import issue_token, verify_access_token
from investment_system.services.billing.schedule import apply_due_changes
from investment_system.services.system.rate_limit import get_rate_limiter
from investment_system.settings import get_settings
from tests.support.billing import (
    CHANGE_PLAN,
    count_metrics_from_here,
    deliver,
    emitted_metrics,
    payment_event,
    put_on_plan,
    time_passes,
)
from tests.support.functions import Reply, function_module
from tests.support.signals import Investor, call, make_investor
from tests.system.test_rate_limiter import REDIS_URL, TABLE, aws  # noqa: F401  (the moto fixture)

USAGE = ("GetUsageFunction", "GET", "/v1/billing/usage")
PLANS = ("ListPlansFunction", "GET", "/v1/billing/plans")
LOGIN = ("LoginFunction", "POST", "/v1/auth/login")
HEALTH = ("HealthFunction", "GET", "/v1/health")
REFRESH = ("RefreshTokenFunction", "POST", "/v1/auth/refresh")


def request(
    route: tuple[str, str, str],
    *,
    investor: Investor | None = None,
    token: str | None = None,
    ip: str = "198.51.100.7",
    body: Any = None,
) -> Reply:
    """Invoke a function as API Gateway would, from client `ip`."""
    logical_id, method, path = route
    headers = {"content-type": "application/json"}
    if investor is not None or token is not None:
        headers["authorization"] = f"Bearer {token or investor.token}"
    event = http_event(method, path, headers=headers, source_ip=ip, body=json.dumps(body) if body is not None else None)
    return Reply(function_module(logical_id).handler(event, LambdaContextStub(function_name=logical_id)))


def test_authenticated_requests_are_limited_per_user_by_plan(db, capsys):
    # Given a free user (60 requests per minute)
    investor = make_investor()
    # When they make 60 requests within the minute
    replies = [request(USAGE, investor=investor) for _ in range(60)]
    # Then every one is served with the RateLimit headers counting down
    assert {reply.status for reply in replies} == {200}
    assert replies[0].headers["RateLimit-Limit"] == "60"
    assert [reply.headers["RateLimit-Remaining"] for reply in replies[:3]] == ["59", "58", "57"]
    assert replies[-1].headers["RateLimit-Remaining"] == "0"
    assert 60 <= int(replies[0].headers["RateLimit-Reset"]) <= 61
    count_metrics_from_here(capsys)
    # And the 61st is refused with 429, Retry-After and the headers, from any IP
    refused = request(USAGE, investor=investor, ip="203.0.113.99")
    assert refused.status == 429
    assert refused.error_code == "RATE_LIMIT_EXCEEDED"
    assert refused.headers["Retry-After"] == refused.headers["RateLimit-Reset"]
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["X-Correlation-ID"]
    assert emitted_metrics(capsys.readouterr().out).get("RateLimitExceeded") == 1
    # While another user is not affected
    assert request(USAGE, investor=make_investor()).status == 200


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis), "dynamodb"])
def limiter_backend(request: pytest.FixtureRequest, settings_env: pytest.MonkeyPatch) -> str:
    """The functions' rate limiter on each backend: memory, the Redis on this machine, DynamoDB (moto)."""
    settings_env.setenv("RATE_LIMIT_BACKEND", request.param)
    settings_env.setenv("REDIS_URL", REDIS_URL)
    settings_env.setenv("RATE_LIMIT_TABLE", TABLE)
    if request.param == "dynamodb":
        request.getfixturevalue("aws")
    get_rate_limiter.cache_clear()
    return str(request.param)


def test_an_upgrade_paid_and_a_downgrade_applied_reach_the_limit_on_the_next_request(db, limiter_backend):
    # Given a free user signed in: the access token they hold was issued with free's 60 requests per minute
    investor = make_investor()
    free_token = session_tokens(investor.user_id).access_token
    assert request(USAGE, token=free_token).headers["RateLimit-Limit"] == "60"

    # When they pay for pro (the checkout's invoice.paid through the webhook)
    put_on_plan(investor, "pro")

    # Then their next request, with the same token, counts against pro's 600
    assert request(USAGE, token=free_token).headers["RateLimit-Limit"] == "600"

    # Given a token issued on pro, and a downgrade to free scheduled for the period's end
    pro_token = session_tokens(investor.user_id).access_token
    assert call(CHANGE_PLAN, Investor(investor.user_id, pro_token), json_body={"plan": "free"}).status == 200
    assert request(USAGE, token=pro_token).headers["RateLimit-Limit"] == "600"

    # When the period ends and the scheduled job applies the downgrade
    time_passes(investor.user_id, timedelta(days=40))
    apply_due_changes()

    # Then the next request with the pro token counts against free's 60
    assert request(USAGE, token=pro_token).headers["RateLimit-Limit"] == "60"


def test_a_cancellation_by_the_provider_reaches_the_limit_on_the_next_request(db, limiter_backend):
    # Given a pro user holding a token issued on pro
    investor = make_investor()
    put_on_plan(investor, "pro")
    pro_token = session_tokens(investor.user_id).access_token
    assert request(USAGE, token=pro_token).headers["RateLimit-Limit"] == "600"
    # When the provider cancels the subscription (subscription.canceled through the webhook)
    assert deliver(payment_event("subscription.canceled", investor.user_id)).status == 200
    # Then the next request counts against free's 60
    assert request(USAGE, token=pro_token).headers["RateLimit-Limit"] == "60"


def test_a_limit_store_that_is_down_at_the_change_leaves_the_tokens_limit_and_is_logged(db, json_logs):
    # Given a free user's token, and a limiter store that refuses writes when the plan changes
    investor = make_investor()
    free_token = session_tokens(investor.user_id).access_token

    def refuse(limit_key: str, limit: int, until: int) -> None:
        raise ConnectionError("store down")

    limiter = get_rate_limiter()
    object.__setattr__(limiter.store, "set_limit", refuse)
    # When they pay for pro
    put_on_plan(investor, "pro")
    # Then the payment applied, the old token still counts against its 60, the failure is logged
    assert request(USAGE, token=free_token).headers["RateLimit-Limit"] == "60"
    assert any(line["message"] == "Rate limit of a plan change not stored" for line in json_logs())
    # And a new login's token carries pro's 600
    assert request(USAGE, token=session_tokens(investor.user_id).access_token).headers["RateLimit-Limit"] == "600"


def test_a_valid_token_without_a_limit_counts_for_its_client_ip(db, settings_env):
    # Given an access token issued without the plan's limit (before tokens carried one)
    settings_env.setenv("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "3")
    investor = make_investor()
    claims = verify_access_token(investor.token)
    unlimited = issue_token(
        investor.user_id,
        claims["role"],
        "access",
        session_id=uuid.UUID(claims["sid"]),
        epoch=claims["epoch"],
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        now=datetime.fromtimestamp(claims["iat"], UTC),
    )
    # When it is used, Then the route serves it and the request counts against the per-IP limit
    reply = request(USAGE, token=unlimited)
    assert reply.status == 200
    assert reply.headers["RateLimit-Limit"] == "3"


def test_anonymous_requests_are_limited_per_client_ip(db, settings_env):
    # Given an anonymous limit of 3 per minute
    settings_env.setenv("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "3")
    # When one IP makes 4 anonymous requests
    replies = [request(PLANS, ip="198.51.100.1") for _ in range(4)]
    # Then the first 3 are served with the headers and the 4th is refused
    assert [reply.status for reply in replies] == [200, 200, 200, 429]
    assert replies[0].headers["RateLimit-Limit"] == "3"
    assert replies[3].error_code == "RATE_LIMIT_EXCEEDED"
    assert int(replies[3].headers["Retry-After"]) >= 1
    # And another IP still gets through
    assert request(PLANS, ip="198.51.100.2").status == 200


def test_login_counts_per_client_ip_even_with_a_valid_token(db, settings_env):
    # Given an anonymous limit of 2 per minute, and a signed-in user trying logins
    settings_env.setenv("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "2")
    investor = make_investor()
    credentials = {"email": "someone@example.com", "password": "Wrong-Password-123"}
    # When the IP tries 3 logins
    replies = [request(LOGIN, investor=investor, ip="198.51.100.3", body=credentials) for _ in range(3)]
    # Then the first two are answered (wrong password) and the third is refused before any check
    assert [reply.status for reply in replies] == [401, 401, 429]
    assert replies[0].headers["RateLimit-Limit"] == "2"
    # And the user's own budget was not used
    assert request(USAGE, investor=investor, ip="198.51.100.3").headers["RateLimit-Remaining"] == "59"


def test_an_invalid_token_counts_against_the_client_ip(db, settings_env):
    settings_env.setenv("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "2")
    replies = [request(USAGE, token="not-a-jwt", ip="198.51.100.4") for _ in range(3)]
    assert [reply.status for reply in replies] == [401, 401, 429]
    assert replies[0].headers["RateLimit-Limit"] == "2"


def test_health_is_exempt(db, settings_env):
    settings_env.setenv("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "1")
    replies = [request(HEALTH, ip="198.51.100.5") for _ in range(3)]
    assert [reply.status for reply in replies] == [200, 200, 200]
    assert "RateLimit-Limit" not in replies[0].headers


def test_rate_limiting_can_be_switched_off(db, settings_env):
    settings_env.setenv("RATE_LIMIT_ENABLED", "false")
    reply = request(PLANS)
    assert reply.status == 200
    assert "RateLimit-Limit" not in reply.headers


@pytest.mark.redis
def test_the_redis_backend_limits_through_the_handlers(db, settings_env):
    settings_env.setenv("RATE_LIMIT_BACKEND", "redis")
    settings_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    investor = make_investor()
    first, second = request(USAGE, investor=investor), request(USAGE, investor=investor)
    assert (first.headers["RateLimit-Remaining"], second.headers["RateLimit-Remaining"]) == ("59", "58")


@pytest.mark.parametrize(("fail_open", "status"), [("true", 200), ("false", 503)])
def test_an_unreachable_backend_fails_open_or_closed_and_is_counted(db, settings_env, capsys, fail_open, status):
    # Given a Redis backend nobody listens on
    settings_env.setenv("RATE_LIMIT_BACKEND", "redis")
    settings_env.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    settings_env.setenv("RATE_LIMIT_FAIL_OPEN", fail_open)
    count_metrics_from_here(capsys)
    # When a request comes
    reply = request(PLANS)
    # Then it is served without RateLimit headers (fail open) or refused with 503 (fail closed)
    assert reply.status == status
    assert "RateLimit-Limit" not in reply.headers
    if status == 503:
        assert reply.error_code == "RATE_LIMITER_UNAVAILABLE"
    # And the outage is counted
    assert emitted_metrics(capsys.readouterr().out).get("RateLimiterUnavailable") == 1


def test_health_reports_the_limiter_backend_as_a_non_critical_dependency(db, settings_env):
    # Given a limiter backend that is up
    assert request(HEALTH).json["dependencies"]["rate_limiter"]["status"] == "up"
    # When a container starts with an unreachable backend
    settings_env.setenv("RATE_LIMIT_BACKEND", "redis")
    settings_env.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    get_rate_limiter.cache_clear()
    reply = request(HEALTH)
    # Then the API is degraded, not down
    assert reply.status == 200
    assert reply.json["status"] == "degraded"
    assert reply.json["dependencies"]["rate_limiter"] == {"status": "down", "latency_ms": None, "critical": False}
