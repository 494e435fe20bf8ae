"""The rate-limit guard: who a request counts against, and with which limit.

It runs in `respond` before routing, so a refused request costs no database work and every response
of a limited route carries `RateLimit-*` (a refused one `Retry-After` too). The subject is the user
of a valid access token, else the source IP (login, registration and refresh always per IP); the
limit is the plan's, carried by the token's `rpm` claim, so the guard reads no database. Counting is
`services.system.rate_limit`; subjects, limits and exempt routes: docs/billing.md#rate-limits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from investment_system.errors import AuthenticationError
from investment_system.http.headers import bearer_token_from
from investment_system.services.accounts.tokens import verify_access_token
from investment_system.services.system.rate_limit import RateLimitDecision, get_rate_limiter
from investment_system.settings import get_settings

EXEMPT_ROUTES = frozenset(
    {
        "GET /v1/health",
        "GET /v1/openapi.json",
        "GET /v1/docs",
        "GET /v1/docs/{asset}",
        "POST /v1/billing/webhooks/payments",
    }
)
PER_IP_ROUTES = frozenset({"POST /v1/auth/login", "POST /v1/auth/register", "POST /v1/auth/refresh"})


def _token_user(event: Mapping[str, Any]) -> tuple[uuid.UUID, int] | None:
    """The user a valid access token names, and the requests per minute it allows."""
    token = bearer_token_from(event.get("headers"))
    if token is None:
        return None
    try:
        claims = verify_access_token(token)
    except AuthenticationError:
        return None  # the route answers 401; until then the caller counts as anonymous
    limit = claims.get("rpm")
    if type(limit) is not int or limit < 1:
        return None
    return uuid.UUID(str(claims["sub"])), limit


def rate_limit_guard(event: Mapping[str, Any], route_key: str) -> dict[str, str]:
    """The request guard of every HTTP function (see the module docstring)."""
    settings = get_settings().rate_limit
    method = str(((event.get("requestContext") or {}).get("http") or {}).get("method") or "")
    if not settings.enabled or method == "OPTIONS" or route_key in EXEMPT_ROUTES:
        return {}
    user = None if route_key in PER_IP_ROUTES else _token_user(event)
    if user is not None:
        user_id, limit = user
        return rate_limit_headers(get_rate_limiter().check(f"user:{user_id}", limit))
    return limit_per_ip(str(((event.get("requestContext") or {}).get("http") or {}).get("sourceIp") or "unknown"))


def limit_per_ip(source_ip: str) -> dict[str, str]:
    """Count an anonymous request of this client IP (RATE_LIMIT_ANONYMOUS_PER_MINUTE): the RateLimit headers,
    or 429 RATE_LIMIT_EXCEEDED. The WebSocket API's $connect counts here too (http/websocket.py)."""
    settings = get_settings().rate_limit
    if not settings.enabled:
        return {}
    return rate_limit_headers(get_rate_limiter().check(f"ip:{source_ip}", settings.anonymous_per_minute))


def rate_limit_headers(decision: RateLimitDecision | None) -> dict[str, str]:
    """A rate limit's decision as the RateLimit-* headers; none when the request was not counted."""
    if decision is None:
        return {}
    return {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset),
    }
