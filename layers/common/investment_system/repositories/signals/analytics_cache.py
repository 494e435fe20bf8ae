"""Where analytics results are kept for a while: the rate limiter's backend (Redis, or its DynamoDB table)
shared by every container, or this container's memory for the `memory` backend.

A store only keeps text under a key until a deadline; what a key means, and that a failing store is a
miss, are services/signals/analytics_cache.py's. Clients are imported on first use.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from investment_system.settings import RateLimitSettings

_MAX_MEMORY_ENTRIES = 10_000


class CacheStore(Protocol):
    name: str

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str, ttl_seconds: int) -> None: ...


class MemoryCache:
    """Entries in this process: a container's own, lost with it."""

    name = "memory"

    def __init__(self, max_entries: int = _MAX_MEMORY_ENTRIES) -> None:
        self._entries: dict[str, tuple[float, str]] = {}
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= time.monotonic():
                return None
            return entry[1]

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries = {k: entry for k, entry in self._entries.items() if entry[0] > now}
                while len(self._entries) >= self._max_entries:  # all still fresh: the oldest go first
                    del self._entries[next(iter(self._entries))]
            self._entries[key] = (now + ttl_seconds, value)


class RedisCache:
    """A string key per entry, expiring with Redis' own TTL."""

    name = "redis"

    def __init__(self, url: str) -> None:
        from redis import Redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # Short timeouts and no retry: a slow cache must cost less than the query it saves.
        self._client = Redis.from_url(url, socket_connect_timeout=0.2, socket_timeout=0.2, retry=Retry(NoBackoff(), 0))

    def get(self, key: str) -> str | None:
        value = self._client.get(key)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        self._client.set(key, value, ex=ttl_seconds)


class DynamoDbCache:
    """An item per entry in the rate limiter's table (its `pk` key, its `expires_at` TTL attribute); an
    item past `expires_at` that DynamoDB has not removed yet is a miss."""

    name = "dynamodb"

    def __init__(self, table: str) -> None:
        import boto3
        from botocore.config import Config

        self._table = table
        config = Config(connect_timeout=0.5, read_timeout=0.5, retries={"max_attempts": 1, "mode": "standard"})
        self._client: Any = boto3.client("dynamodb", config=config)

    def get(self, key: str) -> str | None:
        item = self._client.get_item(TableName=self._table, Key={"pk": {"S": key}}).get("Item")
        if item is None or int(item["expires_at"]["N"]) <= time.time():
            return None
        return str(item["cached"]["S"])

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        # UpdateItem, the one write the functions' roles may make on the table.
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": key}},
            UpdateExpression="SET cached = :value, expires_at = :expires",
            ExpressionAttributeValues={
                ":value": {"S": value},
                ":expires": {"N": str(int(time.time()) + ttl_seconds)},
            },
        )


def build_cache(settings: RateLimitSettings) -> CacheStore:
    """The store on the rate limiter's backend."""
    if settings.backend == "redis":
        return RedisCache(settings.redis_url)
    if settings.backend == "dynamodb":
        return DynamoDbCache(settings.dynamodb_table)
    return MemoryCache()
