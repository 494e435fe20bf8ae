"""Rate limits: at most `limit` requests of a subject in any 60 seconds, on a store every container shares.

API Gateway HTTP APIs have no per-client throttling, so the functions limit themselves; this module
counts, `investment_system.http.rate_limit` decides who against which limit. A sliding window of
per-second buckets (refused requests not counted) gives a `RateLimitDecision` or raises
`RateLimitExceeded`; backends `memory`, `redis` and `dynamodb` admit atomically, their clients loaded
on first use; a backend down fails open or closed (RATE_LIMIT_FAIL_OPEN). A plan change stores the user's
new limit beside the counts, read in the same round trip, so it applies whatever token the client holds.
docs/billing.md#rate-limits.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from investment_system.errors import ErrorCode, RateLimited, Unavailable
from investment_system.observability import MetricName, add_metric, logger
from investment_system.settings import RateLimitSettings, get_settings
from investment_system.snapstart import after_restore

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
    limit: int  # the limit it was admitted against: the stored one when there is one, else the caller's


class WindowStore(Protocol):
    """Where the buckets live. `admit` counts a request of `key` at `second` when fewer than `limit`
    are counted in `second` and the 60 seconds before it; atomically, whoever else admits at once. A
    limit stored at `limit_key` (`set_limit`, until its second `until`) replaces `limit`, read in the
    same round trip."""

    name: str

    def admit(self, key: str, limit: int, second: int, limit_key: str | None = None) -> Window: ...

    def set_limit(self, limit_key: str, limit: int, until: int) -> None: ...

    def ping(self) -> None: ...


def admit_into(buckets: dict[int, int], limit: int, second: int) -> Window:
    """The admission rule on a subject's buckets (second -> requests), which it updates in place:
    buckets out of the window are dropped, and the request is counted when there is room."""
    for stale in [at for at in buckets if at < second - WINDOW_SECONDS]:
        del buckets[stale]
    count = sum(buckets.values())
    oldest = min([*buckets, second])
    if count >= limit:
        return Window(admitted=False, count=count, oldest=oldest, limit=limit)
    buckets[second] = buckets.get(second, 0) + 1
    return Window(admitted=True, count=count + 1, oldest=oldest, limit=limit)


class MemoryWindows:
    """Buckets in this process: right for one local server, useless across Lambda containers."""

    name = "memory"

    def __init__(self) -> None:
        self._subjects: dict[str, dict[int, int]] = {}
        self._limits: dict[str, tuple[int, int]] = {}  # limit key -> (limit, until)
        self._lock = threading.Lock()

    def admit(self, key: str, limit: int, second: int, limit_key: str | None = None) -> Window:
        with self._lock:
            if len(self._subjects) > _MAX_MEMORY_SUBJECTS:
                self._subjects = {
                    subject: buckets
                    for subject, buckets in self._subjects.items()
                    if max(buckets, default=0) >= second - WINDOW_SECONDS
                }
                self._limits = {key: stored for key, stored in self._limits.items() if stored[1] > second}
            stored = self._limits.get(limit_key) if limit_key else None
            if stored is not None and stored[1] > second:
                limit = stored[0]
            return admit_into(self._subjects.setdefault(key, {}), limit, second)

    def set_limit(self, limit_key: str, limit: int, until: int) -> None:
        with self._lock:
            self._limits[limit_key] = (limit, until)

    def ping(self) -> None:
        return None


# KEYS[1]: the subject's hash (field: second, value: requests); KEYS[2], when given: the subject's stored
# limit, "<limit> <until>" (the key expires then too). ARGV: second, limit, window seconds. Returns
# {admitted (0/1), count, oldest, limit}. Redis runs a script alone, so admission is atomic.
_REDIS_ADMIT = """
local second, limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if KEYS[2] then
  local stored = redis.call('GET', KEYS[2])
  if stored then
    local stored_limit, expiry = string.match(stored, '^(%d+) (%d+)$')
    if expiry and tonumber(expiry) > second then limit = tonumber(stored_limit) end
  end
end
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
  return {0, count, oldest, limit}
end
redis.call('HINCRBY', KEYS[1], second, 1)
redis.call('EXPIRE', KEYS[1], window + 2)
return {1, count + 1, oldest, limit}
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

    def admit(self, key: str, limit: int, second: int, limit_key: str | None = None) -> Window:
        keys = [key] if limit_key is None else [key, limit_key]
        admitted, count, oldest, applied = self._admit(keys=keys, args=[second, limit, WINDOW_SECONDS])
        return Window(admitted=bool(admitted), count=int(count), oldest=int(oldest), limit=int(applied))

    def set_limit(self, limit_key: str, limit: int, until: int) -> None:
        self._client.set(limit_key, f"{limit} {until}", exat=until)

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
    - A stored limit is an item of its own (`limit`, `expires_at`: the counts' item goes a minute after
      the last request, the limit must outlive that), read with the counts in one BatchGetItem.
    """

    name = "dynamodb"
    _ATTEMPTS = 5

    def __init__(self, table: str) -> None:
        import boto3
        from botocore.config import Config

        self._table = table
        config = Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 2, "mode": "standard"})
        self._client: Any = boto3.client("dynamodb", config=config)

    def admit(self, key: str, limit: int, second: int, limit_key: str | None = None) -> Window:
        item, stored = self._read(key, limit_key)
        if stored is not None and int(stored["expires_at"]["N"]) > second:
            limit = int(stored["limit"]["N"])
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

    def _read(self, key: str, limit_key: str | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The subject's counts item and, when asked, its stored limit's: consistent reads, one round trip."""
        if limit_key is None:
            response = self._client.get_item(TableName=self._table, Key={"pk": {"S": key}}, ConsistentRead=True)
            return response.get("Item"), None
        response = self._client.batch_get_item(
            RequestItems={self._table: {"Keys": [{"pk": {"S": key}}, {"pk": {"S": limit_key}}], "ConsistentRead": True}}
        )
        if response.get("UnprocessedKeys"):
            raise RuntimeError(f"{key}: the read was throttled")
        items = {item["pk"]["S"]: item for item in response["Responses"].get(self._table, [])}
        return items.get(key), items.get(limit_key)

    def set_limit(self, limit_key: str, limit: int, until: int) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={"pk": {"S": limit_key}, "limit": {"N": str(limit)}, "expires_at": {"N": str(until)}},
        )

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

    def check(
        self, subject: str, limit: int, now: float | None = None, *, stored_limit: bool = False
    ) -> RateLimitDecision | None:
        """Count a request of `subject`: the decision, None when the store is down and the limiter fails
        open; RateLimitExceeded past the limit: the subject's stored one (`stored_limit`) when there is
        one, else `limit`."""
        now = time.time() if now is None else now
        limit_key = _limit_key(subject) if stored_limit else None
        try:
            window = self.store.admit(f"rl:{subject}", limit, math.floor(now), limit_key)
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
        decision = RateLimitDecision(limit=window.limit, remaining=max(0, window.limit - window.count), reset=reset)
        if not window.admitted:
            add_metric(MetricName.RATE_LIMIT_EXCEEDED)
            raise RateLimitExceeded(decision)
        return decision


def _limit_key(subject: str) -> str:
    return f"rl-limit:{subject}"


def user_subject(user_id: uuid.UUID) -> str:
    """Who a user's requests count against."""
    return f"user:{user_id}"


def apply_user_limit(user_id: uuid.UUID, requests_per_minute: int, now: float | None = None) -> None:
    """The user's requests per minute from their next request on, whatever access token they hold (a
    plan change, once committed). Stored as long as a token issued before it may live: a token issued
    later carries the same limit. A store that is down is logged and counted; the tokens' limit serves."""
    security = get_settings().security
    now = time.time() if now is None else now
    until = math.ceil(now) + security.access_token_ttl_seconds + security.jwt_leeway_seconds + 1
    store = get_rate_limiter().store
    try:
        store.set_limit(_limit_key(user_subject(user_id)), requests_per_minute, until)
    except Exception as error:  # the plan changed all the same; the limit follows with the next login
        add_metric(MetricName.RATE_LIMITER_UNAVAILABLE)
        logger.warning(
            "Rate limit of a plan change not stored",
            extra={"backend": store.name, "error_type": type(error).__name__, "user_id": str(user_id)},
        )


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


# Made again after a restore (the snapshot's store client holds connections that are gone, and the
# settings are read again), and after a replay before the snapshot, which ran on a scratch store.
after_restore(get_rate_limiter.cache_clear)
