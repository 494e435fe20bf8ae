"""Rate-limit counters: per subject per minute, on a store every container shares.

API Gateway HTTP APIs have no usage plans or per-client throttling, so the functions limit
themselves. This module counts; the request guard that decides who is counted against which limit
is `investment_system.http.rate_limit`.

- Window: fixed, one minute (UTC), one counter per subject and minute: `rl:<subject>:<minute>`.
- Backends (RATE_LIMIT_BACKEND): `memory` (this container only: local runs and tests), `redis`
  (INCR + EXPIRE in one MULTI), `dynamodb` (atomic ADD with a TTL attribute). Their clients are
  imported and created on first use, so a function that never limits never loads redis or boto3.
- Backend down: counted (RateLimiterUnavailable), logged, then allowed without RateLimit headers
  (RATE_LIMIT_FAIL_OPEN=true, the default) or refused with 503 RATE_LIMITER_UNAVAILABLE.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from investment_system.errors import ErrorCode, RateLimited, Unavailable
from investment_system.observability import MetricName, add_metric, logger
from investment_system.settings import RateLimitSettings, get_settings

WINDOW_SECONDS = 60
_MAX_CACHED_KEYS = 10_000


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
