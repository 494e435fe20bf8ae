"""Rate limits: at most `limit` requests of a subject in any 60 seconds, on a store every container shares.

API Gateway HTTP APIs have no per-client throttling, so the functions limit themselves; this module
counts, `investment_system.http.rate_limit` decides who against which limit. A sliding window of
per-second buckets (refused requests not counted) gives a `RateLimitDecision` or raises
`RateLimitExceeded`; backends `memory`, `redis` and `dynamodb` admit atomically, their clients loaded
on first use; a backend down fails open or closed (RATE_LIMIT_FAIL_OPEN). docs/billing.md#rate-limits.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from investment_system.errors import ErrorCode, RateLimited, Unavailable
from investment_system.observability import MetricName, add_metric, logger
from investment_system.settings import RateLimitSettings, get_settings

WINDOW_SECONDS = 60
# A request admitted at second s (any time in [s, s + 1)) is counted until s + BUCKET_LIFE_SECONDS.
BUCKET_LIFE_SECONDS = WINDOW_SECONDS + 1
_MAX_MEMORY_SUBJECTS = 10_000


@dataclass(frozen=True, slots=True)
class Window:
    """A subject's window once a request was admitted or refused."""

    admitted: bool
    count: int  # requests counted in the window, this one included when admitted
    oldest: int  # the second of the oldest request counted (the request's own when it is the only one)


class WindowStore(Protocol):
    """Where the buckets live. `admit` counts a request of `key` at `second` when fewer than `limit`
    are counted in `second` and the 60 seconds before it; atomically, whoever else admits at once."""

    name: str

    def admit(self, key: str, limit: int, second: int) -> Window: ...

    def ping(self) -> None: ...


def admit_into(buckets: dict[int, int], limit: int, second: int) -> Window:
    """The admission rule on a subject's buckets (second -> requests), which it updates in place:
    buckets out of the window are dropped, and the request is counted when there is room."""
    for stale in [at for at in buckets if at < second - WINDOW_SECONDS]:
        del buckets[stale]
    count = sum(buckets.values())
    oldest = min([*buckets, second])
    if count >= limit:
        return Window(admitted=False, count=count, oldest=oldest)
    buckets[second] = buckets.get(second, 0) + 1
    return Window(admitted=True, count=count + 1, oldest=oldest)


class MemoryWindows:
    """Buckets in this process: right for one local server, useless across Lambda containers."""

    name = "memory"

    def __init__(self) -> None:
        self._subjects: dict[str, dict[int, int]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, limit: int, second: int) -> Window:
        with self._lock:
            if len(self._subjects) > _MAX_MEMORY_SUBJECTS:
                self._subjects = {
                    subject: buckets
                    for subject, buckets in self._subjects.items()
                    if max(buckets, default=0) >= second - WINDOW_SECONDS
                }
            return admit_into(self._subjects.setdefault(key, {}), limit, second)

    def ping(self) -> None:
        return None


# KEYS[1]: the subject's hash (field: second, value: requests); ARGV: second, limit, window seconds.
# Returns {admitted (0/1), count, oldest}. Redis runs a script alone, so admission is atomic.
_REDIS_ADMIT = """
local second, limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local count, oldest = 0, second
local buckets = redis.call('HGETALL', KEYS[1])
for i = 1, #buckets, 2 do
  local at = tonumber(buckets[i])
  if at < second - window then
    redis.call('HDEL', KEYS[1], buckets[i])
  else
    count = count + tonumber(buckets[i + 1])
    if at < oldest then oldest = at end
  end
end
if count >= limit then
  return {0, count, oldest}
end
redis.call('HINCRBY', KEYS[1], second, 1)
redis.call('EXPIRE', KEYS[1], window + 2)
return {1, count + 1, oldest}
"""


class RedisWindows:
    """One hash per subject, admitted by one Lua script (EVALSHA; loaded again after a Redis restart)."""

    name = "redis"

    def __init__(self, url: str) -> None:
        from redis import Redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # Short timeouts and one retry: a slow limiter must not eat the function's time budget.
        self._client = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5, retry=Retry(NoBackoff(), 1))
        self._admit = self._client.register_script(_REDIS_ADMIT)

    def admit(self, key: str, limit: int, second: int) -> Window:
        admitted, count, oldest = self._admit(keys=[key], args=[second, limit, WINDOW_SECONDS])
        return Window(admitted=bool(admitted), count=int(count), oldest=int(oldest))

    def ping(self) -> None:
        self._client.ping()


class DynamoDbWindows:
    """One item per subject: a number attribute per second (`s<second>`), `latest` (the newest second
    counted) and `expires_at` (the table's TTL attribute).

    DynamoDB runs no scripts, so admission is a consistent read and a conditional write:

    - Requests are only ever counted in the `latest` second or a newer one (a container whose clock is
      behind counts in `latest`), so every older bucket is final once a newer one exists.
    - Same second as `latest`: ADD one to its bucket on condition that `latest` is unchanged and the
      bucket is below what the older (final) buckets leave of the limit. Requests of one second
      never make each other retry; the condition fails only when the room is gone or a new second began.
    - A newer second: SET `latest`, on condition that `latest` and its bucket are as read, i.e.
      nothing was counted since the read.
    - A failed condition returns the item as it is (ReturnValuesOnConditionCheckFailure), which the
      next attempt decides on without reading again. Buckets out of the window are removed by the write.
    """

    name = "dynamodb"
    _ATTEMPTS = 5

    def __init__(self, table: str) -> None:
        import boto3
        from botocore.config import Config

        self._table = table
        config = Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 2, "mode": "standard"})
        self._client: Any = boto3.client("dynamodb", config=config)

    def admit(self, key: str, limit: int, second: int) -> Window:
        response = self._client.get_item(TableName=self._table, Key={"pk": {"S": key}}, ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        for _ in range(self._ATTEMPTS):
            buckets = {int(name[1:]): int(value["N"]) for name, value in (item or {}).items() if name[:1] == "s"}
            latest = int(item["latest"]["N"]) if item else None
            at = second if latest is None else max(second, latest)
            stale = [bucket for bucket in buckets if bucket < at - WINDOW_SECONDS]
            window = admit_into(dict(buckets), limit, at)
            if not window.admitted:
                return window
            try:
                self._count(key, at, latest, buckets, limit - (window.count - buckets.get(at, 0)) + 1, stale)
            except self._client.exceptions.ConditionalCheckFailedException as error:
                item = error.response.get("Item")
                continue
            return window
        raise RuntimeError(f"{key}: still contended after {self._ATTEMPTS} attempts")

    def _count(
        self, key: str, at: int, latest: int | None, buckets: dict[int, int], room: int, stale: list[int]
    ) -> None:
        """ADD one to bucket `at` on the conditions of the class docstring; `room` is what the buckets
        before `at` leave of the limit."""
        names = {"#latest": "latest", "#at": f"s{at}"}
        names |= {f"#x{index}": f"s{bucket}" for index, bucket in enumerate(stale)}
        values: dict[str, Any] = {
            ":one": {"N": "1"},
            ":at": {"N": str(at)},
            ":expires": {"N": str(at + BUCKET_LIFE_SECONDS + 1)},
        }
        if latest is None:
            condition = "attribute_not_exists(pk)"
        elif latest == at:
            condition = "#latest = :at AND (attribute_not_exists(#at) OR #at < :room)"
            values[":room"] = {"N": str(room)}
        else:
            names["#latest_bucket"] = f"s{latest}"
            condition = "#latest = :latest AND #latest_bucket = :latest_count"
            values |= {":latest": {"N": str(latest)}, ":latest_count": {"N": str(buckets.get(latest, 0))}}
        update = "ADD #at :one SET #latest = :at, expires_at = :expires"
        if stale:
            update += " REMOVE " + ", ".join(f"#x{index}" for index in range(len(stale)))
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": key}},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def ping(self) -> None:
        self._client.describe_table(TableName=self._table)


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    """A subject's limit once a request was counted: what is left of it, and the seconds until the
    oldest counted request leaves the window (when the next request can be admitted)."""

    limit: int
    remaining: int
    reset: int


class RateLimitExceeded(RateLimited):
    """429 RATE_LIMIT_EXCEEDED, with the decision that refused the request (retry after its reset)."""

    def __init__(self, decision: RateLimitDecision) -> None:
        super().__init__(ErrorCode.RATE_LIMIT_EXCEEDED, decision.reset)
        self.decision = decision


@dataclass(frozen=True, slots=True)
class RateLimiter:
    store: WindowStore
    fail_open: bool

    def check(self, subject: str, limit: int, now: float | None = None) -> RateLimitDecision | None:
        """Count a request of `subject`: the decision, None when the store is down and the limiter fails
        open; RateLimitExceeded past `limit`."""
        now = time.time() if now is None else now
        try:
            window = self.store.admit(f"rl:{subject}", limit, math.floor(now))
        except Exception as error:  # any failure of the store is an outage of the limiter
            add_metric(MetricName.RATE_LIMITER_UNAVAILABLE)
            logger.warning(
                "Rate limiter unavailable",
                extra={"backend": self.store.name, "error_type": type(error).__name__, "fail_open": self.fail_open},
            )
            if self.fail_open:
                return None
            raise Unavailable(ErrorCode.RATE_LIMITER_UNAVAILABLE) from None
        reset = max(1, math.ceil(window.oldest + BUCKET_LIFE_SECONDS - now))
        decision = RateLimitDecision(limit=limit, remaining=max(0, limit - window.count), reset=reset)
        if not window.admitted:
            add_metric(MetricName.RATE_LIMIT_EXCEEDED)
            raise RateLimitExceeded(decision)
        return decision


_shared_memory_store: WindowStore | None = None


def share_memory_backend(store: WindowStore) -> None:
    """Local runs: the `memory` backend counts in `store` instead of this process's memory.

    `invest serve` runs each function in processes of its own; it gives all of them one store, so
    that a client's limit is the same however many functions and containers serve it."""
    global _shared_memory_store
    _shared_memory_store = store
    get_rate_limiter.cache_clear()


def build_store(settings: RateLimitSettings) -> WindowStore:
    if settings.backend == "redis":
        return RedisWindows(settings.redis_url)
    if settings.backend == "dynamodb":
        return DynamoDbWindows(settings.dynamodb_table)
    return _shared_memory_store or MemoryWindows()


@cache
def get_rate_limiter() -> RateLimiter:
    """The container's limiter, on the configured backend."""
    settings = get_settings().rate_limit
    return RateLimiter(build_store(settings), settings.fail_open)
