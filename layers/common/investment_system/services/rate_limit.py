"""Rate limiting: per user per minute by plan on authenticated requests, per client IP otherwise.

API Gateway HTTP APIs have no usage plans or per-client throttling, so the functions limit
themselves, against counters every container shares. `rate_limit_guard` runs in `lambda_handler`
before routing (http/resolver.py), so refused requests cost no database work and every response of a
limited route, errors included, carries `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`.

- Window: fixed, one minute (UTC), one counter per subject and minute: `rl:<subject>:<minute>`.
- Subject: `user:<id>` when the request carries a valid access token (only the signature and claims
  are checked here, no database), else `ip:<source IP>` as API Gateway saw it (X-Forwarded-For is
  not trusted). Login, registration and token refresh always count per IP: the per-account defence
  against password guessing is the lockout.
- Limit: the user's plan's `requests_per_minute`, cached per container for `USER_LIMIT_TTL_SECONDS`
  (one query per user per container and minute at most); RATE_LIMIT_ANONYMOUS_PER_MINUTE per IP.
- Exempt: health (monitors must see an outage, not a 429), the docs, and the payment webhook (signed,
  from the provider, whose retries would only pile up), and CORS preflights.
- Backends (RATE_LIMIT_BACKEND): `memory` (this container only: local runs and tests), `redis`
  (INCR + EXPIRE in one MULTI), `dynamodb` (atomic ADD with a TTL attribute). Their clients are
  imported and created on first use, so a function that never limits never loads redis or boto3.
- Backend down: counted (RateLimiterUnavailable), logged, then allowed without RateLimit headers
  (RATE_LIMIT_FAIL_OPEN=true, the default) or refused with 503 RATE_LIMITER_UNAVAILABLE.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from investment_system.errors import AuthenticationError, ErrorCode, RateLimited, Unavailable
from investment_system.observability import MetricName, add_metric, logger
from investment_system.settings import RateLimitSettings, get_settings

WINDOW_SECONDS = 60
USER_LIMIT_TTL_SECONDS = 60.0
_MAX_CACHED_KEYS = 10_000
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


class Counters(Protocol):
    """A shared counter store: `hit` adds one to `key` (kept at least `ttl_seconds`) and returns the new count."""

    name: str

    def hit(self, key: str, ttl_seconds: int) -> int: ...

    def ping(self) -> None: ...


class MemoryCounters:
    """Counters in this process: right for one local server, useless across Lambda containers."""

    name = "memory"

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, ttl_seconds: int) -> int:
        now = time.monotonic()
        with self._lock:
            if len(self._counts) > _MAX_CACHED_KEYS:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            count, expires = self._counts.get(key, (0, now + ttl_seconds))
            if expires <= now:
                count, expires = 0, now + ttl_seconds
            self._counts[key] = (count + 1, expires)
            return count + 1

    def ping(self) -> None:
        return None


class RedisCounters:
    name = "redis"

    def __init__(self, url: str) -> None:
        from redis import Redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # Short timeouts and one retry: a slow limiter must not eat the function's time budget.
        self._client = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5, retry=Retry(NoBackoff(), 1))

    def hit(self, key: str, ttl_seconds: int) -> int:
        pipeline = self._client.pipeline(transaction=True)
        pipeline.incr(key)
        pipeline.expire(key, ttl_seconds)
        count, _ = pipeline.execute()
        return int(count)

    def ping(self) -> None:
        self._client.ping()


class DynamoDbCounters:
    """One item per key: `hits` incremented atomically by UpdateItem; `expires_at` is the table's TTL attribute."""

    name = "dynamodb"

    def __init__(self, table: str) -> None:
        import boto3
        from botocore.config import Config

        self._table = table
        config = Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 2, "mode": "standard"})
        self._client: Any = boto3.client("dynamodb", config=config)

    def hit(self, key: str, ttl_seconds: int) -> int:
        response = self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": key}},
            UpdateExpression="ADD hits :one SET expires_at = if_not_exists(expires_at, :expires)",
            ExpressionAttributeValues={":one": {"N": "1"}, ":expires": {"N": str(int(time.time()) + ttl_seconds)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["hits"]["N"])

    def ping(self) -> None:
        self._client.describe_table(TableName=self._table)


@dataclass(frozen=True, slots=True)
class RateLimiter:
    counters: Counters
    fail_open: bool

    def check(self, subject: str, limit: int, now: float | None = None) -> dict[str, str]:
        """Count a request of `subject`: its RateLimit headers; 429 RATE_LIMIT_EXCEEDED past `limit`."""
        now = time.time() if now is None else now
        window = int(now // WINDOW_SECONDS)
        reset = WINDOW_SECONDS - int(now % WINDOW_SECONDS)
        try:
            count = self.counters.hit(f"rl:{subject}:{window}", 2 * WINDOW_SECONDS)
        except Exception as error:  # any failure of the store is an outage of the limiter
            add_metric(MetricName.RATE_LIMITER_UNAVAILABLE)
            logger.warning(
                "Rate limiter unavailable",
                extra={"backend": self.counters.name, "error_type": type(error).__name__, "fail_open": self.fail_open},
            )
            if self.fail_open:
                return {}
            raise Unavailable(ErrorCode.RATE_LIMITER_UNAVAILABLE) from None
        headers = {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": str(max(0, limit - count)),
            "RateLimit-Reset": str(reset),
        }
        if count > limit:
            add_metric(MetricName.RATE_LIMIT_EXCEEDED)
            raise RateLimited(ErrorCode.RATE_LIMIT_EXCEEDED, reset, headers)
        return headers


def build_counters(settings: RateLimitSettings) -> Counters:
    if settings.backend == "redis":
        return RedisCounters(settings.redis_url)
    if settings.backend == "dynamodb":
        return DynamoDbCounters(settings.dynamodb_table)
    return MemoryCounters()


@cache
def get_rate_limiter() -> RateLimiter:
    """The container's limiter, on the configured backend."""
    settings = get_settings().rate_limit
    return RateLimiter(build_counters(settings), settings.fail_open)


# user id -> (requests per minute, monotonic deadline)
_user_limits: dict[uuid.UUID, tuple[int, float]] = {}


def forget_user_limit(user_id: uuid.UUID) -> None:
    """Drop this container's cached limit of a user (their plan changed)."""
    _user_limits.pop(user_id, None)


def _user_limit(user_id: uuid.UUID) -> int:
    now = time.monotonic()
    cached = _user_limits.get(user_id)
    if cached is not None and cached[1] > now:
        return cached[0]
    from investment_system.db import unit_of_work
    from investment_system.services.subscriptions import plan_of_user

    with unit_of_work() as session:
        limit = plan_of_user(session, user_id).quotas.requests_per_minute
    if len(_user_limits) >= _MAX_CACHED_KEYS:
        _user_limits.clear()
    _user_limits[user_id] = (limit, now + USER_LIMIT_TTL_SECONDS)
    return limit


def _header(event: Mapping[str, Any], name: str) -> str:
    headers = event.get("headers") or {}
    return next((str(value) for key, value in headers.items() if key.lower() == name), "")


def _token_user(event: Mapping[str, Any]) -> uuid.UUID | None:
    scheme, _, token = _header(event, "authorization").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    from investment_system.services.tokens import verify_access_token

    try:
        return uuid.UUID(str(verify_access_token(token.strip())["sub"]))
    except AuthenticationError:
        return None  # the route answers 401; until then the caller counts as anonymous


def rate_limit_guard(event: Mapping[str, Any], route_key: str) -> dict[str, str]:
    """The request guard of every HTTP function (see the module docstring)."""
    settings = get_settings().rate_limit
    method = str(((event.get("requestContext") or {}).get("http") or {}).get("method") or "")
    if not settings.enabled or method == "OPTIONS" or route_key in EXEMPT_ROUTES:
        return {}
    user_id = None if route_key in PER_IP_ROUTES else _token_user(event)
    if user_id is not None:
        return get_rate_limiter().check(f"user:{user_id}", _user_limit(user_id))
    source_ip = str(((event.get("requestContext") or {}).get("http") or {}).get("sourceIp") or "unknown")
    return get_rate_limiter().check(f"ip:{source_ip}", settings.anonymous_per_minute)
