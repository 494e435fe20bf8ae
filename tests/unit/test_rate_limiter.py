"""The rate limiter on each backend: memory, the real Redis on this machine, DynamoDB (moto)."""

import time
import uuid
from collections.abc import Iterator

import boto3
import pytest
import redis
from moto import mock_aws

from investment_system.errors import AppError, ErrorCode
from investment_system.services.rate_limit import (
    DynamoDbCounters,
    MemoryCounters,
    RateLimiter,
    RedisCounters,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
TABLE = "invest-rate-limits-test"
# 10 s into a minute: 50 s until the window resets.
NOW = 1_800_000_000.0 - (1_800_000_000 % 60) + 10


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def _create_table() -> None:
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


class _BrokenCounters:
    name = "broken"

    def hit(self, key: str, ttl_seconds: int) -> int:
        raise ConnectionError("store down")

    def ping(self) -> None:
        raise ConnectionError("store down")


def _subject() -> str:
    return f"user:{uuid.uuid4()}"


def test_headers_count_down_and_the_request_past_the_limit_is_refused():
    # Given a limit of 3 per minute
    limiter = RateLimiter(MemoryCounters(), fail_open=True)
    subject = _subject()
    # When 3 requests come within the minute
    remaining = [limiter.check(subject, 3, now=NOW)["RateLimit-Remaining"] for _ in range(3)]
    # Then each is allowed, with the remaining count and the seconds to the window's end
    assert remaining == ["2", "1", "0"]
    assert limiter.check(_subject(), 3, now=NOW) == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "2",
        "RateLimit-Reset": "50",
    }
    # And the 4th is refused with 429, Retry-After until the window resets, and the headers
    with pytest.raises(AppError) as refused:
        limiter.check(subject, 3, now=NOW + 1)
    assert refused.value.code == ErrorCode.RATE_LIMIT_EXCEEDED
    assert refused.value.status == 429
    assert refused.value.headers == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "49",
        "Retry-After": "49",
    }


def test_the_next_minute_starts_a_new_window():
    limiter = RateLimiter(MemoryCounters(), fail_open=True)
    subject = _subject()
    limiter.check(subject, 1, now=NOW)
    with pytest.raises(AppError):
        limiter.check(subject, 1, now=NOW + 49)
    assert limiter.check(subject, 1, now=NOW + 50)["RateLimit-Remaining"] == "0"


def test_an_unavailable_store_fails_open_without_headers():
    assert RateLimiter(_BrokenCounters(), fail_open=True).check(_subject(), 1) == {}


def test_an_unavailable_store_fails_closed_with_503_when_configured():
    with pytest.raises(AppError) as refused:
        RateLimiter(_BrokenCounters(), fail_open=False).check(_subject(), 1)
    assert refused.value.code == ErrorCode.RATE_LIMITER_UNAVAILABLE
    assert refused.value.status == 503


@pytest.mark.redis
def test_redis_counters_are_shared_by_every_container_and_expire():
    # Given two containers' limiters on the same Redis
    first, second = (RateLimiter(RedisCounters(REDIS_URL), fail_open=False) for _ in range(2))
    subject = _subject()
    # When each counts requests of one user
    first.check(subject, 3, now=NOW)
    second.check(subject, 3, now=NOW)
    first.check(subject, 3, now=NOW)
    # Then the limit holds across them
    with pytest.raises(AppError) as refused:
        second.check(subject, 3, now=NOW)
    assert refused.value.code == ErrorCode.RATE_LIMIT_EXCEEDED
    # And the counter expires by itself, within two windows
    key = f"rl:{subject}:{int(NOW // 60)}"
    ttl = redis.Redis.from_url(REDIS_URL).ttl(key)
    assert 0 < ttl <= 120


def test_unreachable_redis_fails_open_or_closed_as_configured():
    subject = _subject()
    started = time.monotonic()
    assert RateLimiter(RedisCounters(UNREACHABLE_REDIS_URL), fail_open=True).check(subject, 5) == {}
    with pytest.raises(AppError) as refused:
        RateLimiter(RedisCounters(UNREACHABLE_REDIS_URL), fail_open=False).check(subject, 5)
    assert refused.value.code == ErrorCode.RATE_LIMITER_UNAVAILABLE
    with pytest.raises(redis.RedisError):
        RedisCounters(UNREACHABLE_REDIS_URL).ping()
    # And giving up is quick: an outage must not eat the function's time budget
    assert time.monotonic() - started < 5


def test_dynamodb_counters_are_shared_atomic_and_carry_a_ttl(aws):
    # Given the rate-limit table and two containers' limiters on it
    _create_table()
    first, second = (RateLimiter(DynamoDbCounters(TABLE), fail_open=False) for _ in range(2))
    subject = _subject()
    # When they count requests of one user
    assert first.check(subject, 2, now=NOW)["RateLimit-Remaining"] == "1"
    assert second.check(subject, 2, now=NOW)["RateLimit-Remaining"] == "0"
    # Then the third is refused
    with pytest.raises(AppError):
        first.check(subject, 2, now=NOW)
    # And the counter item has an expiry for the table's TTL, set once, about two minutes out
    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": f"rl:{subject}:{int(NOW // 60)}"}})
    assert item["Item"]["hits"]["N"] == "3"
    assert 0 < int(item["Item"]["expires_at"]["N"]) - time.time() <= 120
    DynamoDbCounters(TABLE).ping()


def test_a_missing_dynamodb_table_fails_open_or_closed_as_configured(aws):
    subject = _subject()
    assert RateLimiter(DynamoDbCounters("no-such-table"), fail_open=True).check(subject, 5) == {}
    with pytest.raises(AppError) as refused:
        RateLimiter(DynamoDbCounters("no-such-table"), fail_open=False).check(subject, 5)
    assert refused.value.code == ErrorCode.RATE_LIMITER_UNAVAILABLE
