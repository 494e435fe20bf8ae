"""The rate-limit guard: who a request counts against, and with which limit.

It runs in `respond` before routing, so a refused request costs no database work and every response
of a limited route carries `RateLimit-*` (a refused one `Retry-After` too). The subject is the user
of a valid access token, else the source IP (login, registration and refresh always per IP); the
limit is the one a plan change stored in the limiter's store, read with the counts, else the token's
`rpm` claim: the guard reads no database. Counting is `services.system.rate_limit`; subjects, limits
and exempt routes: docs/billing.md#rate-limits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from investment_system.errors import AuthenticationError
from investment_system.http.headers import bearer_token_from
from investment_system.http.route_facts import RateLimit
from investment_system.services.accounts.tokens import verify_access_token
from investment_system.services.system.rate_limit import RateLimitDecision, get_rate_limiter, user_subject
from investment_system.settings import get_settings


def access_claims(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The claims of the request's access token when it is valid (signature, expiry); None otherwise.
    The guards read who calls from it; whether the session still lives is the route's check."""
    token = bearer_token_from(event.get("headers"))
    if token is None:
        return None
    try:
        return verify_access_token(token)
    except AuthenticationError:
        return None  # the route answers 401; until then the caller counts as anonymous


def _token_user(event: Mapping[str, Any]) -> tuple[uuid.UUID, int] | None:
    """The user a valid access token names, and the requests per minute it allows."""
    claims = access_claims(event)
    if claims is None:
        return None
    limit = claims.get("rpm")
    if type(limit) is not int or limit < 1:
        return None
    return uuid.UUID(str(claims["sub"])), limit


def rate_limit_guard(event: Mapping[str, Any], rate_limit: RateLimit) -> dict[str, str]:
    """The request guard of every HTTP function, for a route limited as it declares (http/route_facts.py)."""
    settings = get_settings().rate_limit
    method = str(((event.get("requestContext") or {}).get("http") or {}).get("method") or "")
    if not settings.enabled or method == "OPTIONS" or rate_limit is RateLimit.NONE:
        return {}
    user = None if rate_limit is RateLimit.PER_IP else _token_user(event)
    if user is not None:
        user_id, limit = user
        return rate_limit_headers(get_rate_limiter().check(user_subject(user_id), limit, stored_limit=True))
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
