"""The rate limiter's sliding window on each backend: memory, the store `invest serve` shares between its
containers, the real Redis on this machine, DynamoDB (moto)."""

import multiprocessing
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from invest_dev.gateway.rate_limits import SharedWindows
from investment_system.errors import AppError, ErrorCode
from investment_system.services.system.rate_limit import (
    DynamoDbWindows,
    MemoryWindows,
    RateLimitDecision,
    RateLimiter,
    RateLimitExceeded,
    RedisWindows,
    WindowStore,
)
from tests.support.aws import mocked_dynamodb_table

REDIS_URL = "redis://127.0.0.1:6379/0"
UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
TABLE = "invest-rate-limits-test"
MINUTE = 1_800_000_000 - (1_800_000_000 % 60)  # a minute boundary
NOW = MINUTE + 10.0


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mocked_dynamodb_table(monkeypatch, TABLE):
        yield


class _BrokenStore:
    name = "broken"

    def admit(self, key: str, limit: int, second: int, limit_key: str | None = None) -> None:
        raise ConnectionError("store down")

    def set_limit(self, limit_key: str, limit: int, until: int) -> None:
        raise ConnectionError("store down")

    def ping(self) -> None:
        raise ConnectionError("store down")


def _subject() -> str:
    return f"user:{uuid.uuid4()}"


def _memory(tmp_path: Path) -> WindowStore:
    return MemoryWindows()


def _shared(tmp_path: Path) -> WindowStore:
    return SharedWindows(tmp_path / "rate-limits.sqlite")


def _redis(tmp_path: Path) -> WindowStore:
    return RedisWindows(REDIS_URL)


def _dynamodb(tmp_path: Path) -> WindowStore:
    return DynamoDbWindows(TABLE)


BACKENDS = [
    pytest.param(_memory, id="memory"),
    pytest.param(_shared, id="invest-serve-shared"),
    pytest.param(_redis, id="redis", marks=pytest.mark.redis),
    pytest.param(_dynamodb, id="dynamodb"),
]


@pytest.fixture(params=BACKENDS)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], WindowStore]]:
    """A factory of stores on one backend: two stores made by it are two containers sharing the counts."""
    if request.param is _dynamodb:
        request.getfixturevalue("aws")
    if request.param is _memory:  # one process: its containers are its threads
        store = MemoryWindows()
        yield lambda: store
    else:
        yield lambda: request.param(tmp_path)


def _admitted(limiter: RateLimiter, subject: str, limit: int, at: float) -> bool:
    try:
        limiter.check(subject, limit, now=at)
    except AppError as refused:
        if refused.code != ErrorCode.RATE_LIMIT_EXCEEDED:
            raise
        return False
    return True


def test_a_burst_straddling_a_minute_boundary_gets_the_limit_once_on_every_backend(make_store):
    # Given a limit of 10 a minute, and two containers' limiters on one backend
    first, second = (RateLimiter(make_store(), fail_open=False) for _ in range(2))
    subject = _subject()
    # When a client sends 15 requests in the half second before a minute boundary and 15 in the half
    # second after it (a fixed one-minute window would let 20 through), alternating containers
    times = [MINUTE - 0.5 + n / 30 for n in range(30)]
    passed = [t for n, t in enumerate(times) if _admitted((first, second)[n % 2], subject, 10, t)]
    # Then 10 passed in all
    assert len(passed) == 10
    # And until the first of them is more than 60 seconds old, nothing more passes
    assert not _admitted(first, subject, 10, MINUTE + 59.9)
    # When it is, exactly as many pass again as have left the window
    assert [_admitted(second, subject, 10, MINUTE + 60.5) for _ in range(11)] == [True] * 10 + [False]


def test_decisions_count_down_and_the_refusal_says_when_the_oldest_request_leaves(make_store):
    # Given a limit of 3, and requests at 10.0, 11.0 and 12.0 s into a minute
    limiter = RateLimiter(make_store(), fail_open=False)
    subject = _subject()
    decisions = [limiter.check(subject, 3, now=NOW + n) for n in range(3)]
    # Then each is admitted; remaining counts down; reset is when the oldest leaves the window (61 s
    # after the start of its second, as requests are counted per second)
    assert decisions == [
        RateLimitDecision(limit=3, remaining=2, reset=61),
        RateLimitDecision(limit=3, remaining=1, reset=60),
        RateLimitDecision(limit=3, remaining=0, reset=59),
    ]
    # When a 4th comes 30.5 s later
    with pytest.raises(RateLimitExceeded) as refused:
        limiter.check(subject, 3, now=NOW + 30.5)
    # Then it is refused with 429, to retry when the oldest leaves, and says so in its decision
    assert refused.value.status == 429
    assert refused.value.retry_after == 31
    assert refused.value.decision == RateLimitDecision(limit=3, remaining=0, reset=31)
    # And then the next one is admitted, not before
    assert not _admitted(limiter, subject, 3, NOW + 60.9)
    assert limiter.check(subject, 3, now=NOW + 61) == RateLimitDecision(limit=3, remaining=0, reset=1)


def test_a_stored_limit_replaces_the_callers_until_it_expires_on_every_backend(make_store):
    # Given a subject whose callers say 3 a minute, and a stored limit of 5 until 30 s from now
    first, second = (RateLimiter(make_store(), fail_open=False) for _ in range(2))
    subject = _subject()
    first.store.set_limit(f"rl-limit:{subject}", 5, int(NOW) + 30)
    # When requests asking for the stored limit come, through either container
    decisions = [(first, second)[n % 2].check(subject, 3, now=NOW + n, stored_limit=True) for n in range(5)]
    # Then the stored limit counts: 5 pass, the 6th is refused
    assert [decision.limit for decision in decisions if decision] == [5] * 5
    assert not _admitted_stored(first, subject, 3, NOW + 6)
    # And a request not asking for it keeps the caller's limit
    assert not _admitted(second, subject, 3, NOW + 7)
    # When the stored limit expires, the caller's limit is back
    assert _refusal(first, subject, NOW + 31).decision.limit == 3


def _admitted_stored(limiter: RateLimiter, subject: str, limit: int, at: float) -> bool:
    try:
        limiter.check(subject, limit, now=at, stored_limit=True)
    except RateLimitExceeded:
        return False
    return True


def _refusal(limiter: RateLimiter, subject: str, at: float) -> RateLimitExceeded:
    with pytest.raises(RateLimitExceeded) as refused:
        limiter.check(subject, 3, now=at, stored_limit=True)
    return refused.value


def test_refused_requests_are_not_counted_and_subjects_are_apart(make_store):
    limiter = RateLimiter(make_store(), fail_open=False)
    subject, other = _subject(), _subject()
    assert _admitted(limiter, subject, 1, NOW)
    assert [_admitted(limiter, subject, 1, NOW + n) for n in range(1, 50)] == [False] * 49
    assert _admitted(limiter, other, 1, NOW)
    assert _admitted(limiter, subject, 1, NOW + 61)


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(1, 8),
    gaps=st.lists(st.floats(0, 20, allow_nan=False), min_size=1, max_size=120),
)
def test_no_60_second_window_ever_holds_more_than_the_limit(limit, gaps):
    # Given requests arriving at any times
    limiter = RateLimiter(MemoryWindows(), fail_open=False)
    arrivals, at = [], NOW
    for gap in gaps:
        at += gap
        arrivals.append(at)
    passed = [t for t in arrivals if _admitted(limiter, "ip:198.51.100.1", limit, t)]
    # Then no window [t, t + 60) holds more than the limit
    assert all(sum(1 for u in passed if t <= u < t + 60) <= limit for t in passed)
    # And a request was refused only when the limit was reached in its second and the 60 before it
    for t in set(arrivals) - set(passed):
        assert sum(1 for u in passed if int(t) - 60 <= int(u) <= t) >= limit


def _admit_from_a_process(path: Path, subject: str, results: multiprocessing.Queue) -> None:
    limiter = RateLimiter(SharedWindows(path), fail_open=False)
    results.put(sum(_admitted(limiter, subject, 60, NOW) for _ in range(40)))


def test_the_invest_serve_store_is_shared_by_processes(tmp_path):
    # Given 4 processes (containers) admitting one subject's requests in one file, limit 60
    path, subject = tmp_path / "rate-limits.sqlite", _subject()
    results: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    processes = [
        multiprocessing.get_context("spawn").Process(target=_admit_from_a_process, args=(path, subject, results))
        for _ in range(4)
    ]
    # When each tries 40 at once
    for process in processes:
        process.start()
    admitted = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(10)
    # Then 60 are admitted in all, not 4 x 60
    assert sum(admitted) == 60


def test_an_unavailable_store_fails_open_without_a_decision():
    assert RateLimiter(_BrokenStore(), fail_open=True).check(_subject(), 1) is None


def test_an_unavailable_store_fails_closed_with_503_when_configured():
    with pytest.raises(AppError) as refused:
        RateLimiter(_BrokenStore(), fail_open=False).check(_subject(), 1)
    assert refused.value.code == ErrorCode.RATE_LIMITER_UNAVAILABLE
    assert refused.value.status == 503


@pytest.mark.redis
def test_a_redis_window_expires_by_itself():
    # Given a subject counted in Redis
    subject = _subject()
    RateLimiter(RedisWindows(REDIS_URL), fail_open=False).check(subject, 3, now=time.time())
    # Then its hash expires once its last bucket is out of the window
    ttl = redis.Redis.from_url(REDIS_URL).ttl(f"rl:{subject}")
    assert 60 < ttl <= 62


def test_unreachable_redis_fails_open_or_closed_as_configured():
    subject = _subject()
    started = time.monotonic()
    assert RateLimiter(RedisWindows(UNREACHABLE_REDIS_URL), fail_open=True).check(subject, 5) is None
    with pytest.raises(AppError) as refused:
        RateLimiter(RedisWindows(UNREACHABLE_REDIS_URL), fail_open=False).check(subject, 5)
    assert refused.value.code == ErrorCode.RATE_LIMITER_UNAVAILABLE
    with pytest.raises(redis.RedisError):
        RedisWindows(UNREACHABLE_REDIS_URL).ping()
    # And giving up is quick: an outage must not eat the function's time budget
    assert time.monotonic() - started < 5


def _item(subject: str) -> dict:
    return boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": f"rl:{subject}"}}, ConsistentRead=True)


def _reading(store: DynamoDbWindows, stale: dict) -> None:
    """Make `store` read `stale` once, as a container whose read came before another's write."""
    real = store._client.get_item
    responses = iter([stale])
    store._client.get_item = lambda **kwargs: next(responses, None) or real(**kwargs)


def test_dynamodb_a_write_since_the_read_fails_the_condition_and_the_item_decides(aws):
    # Given a limit of 2 and one request counted; a container reads the item now
    counted, late = DynamoDbWindows(TABLE), DynamoDbWindows(TABLE)
    subject = _subject()
    RateLimiter(counted, fail_open=False).check(subject, 2, now=NOW)
    _reading(late, _item(subject))
    # When another container counts a request in the same second before the first one writes
    RateLimiter(counted, fail_open=False).check(subject, 2, now=NOW + 0.5)
    # Then the late writer's condition fails, and the item it gets back refuses it: no third request
    assert not _admitted(RateLimiter(late, fail_open=False), subject, 2, NOW + 0.9)
    assert _item(subject)["Item"][f"s{int(NOW)}"]["N"] == "2"


def test_dynamodb_a_newer_second_counted_since_the_read_is_seen(aws):
    # Given a limit of 2, one request counted in one second, and a container that read the item then
    counted, late = DynamoDbWindows(TABLE), DynamoDbWindows(TABLE)
    subject = _subject()
    RateLimiter(counted, fail_open=False).check(subject, 2, now=NOW)
    _reading(late, _item(subject))
    # When another container counts one in the next second
    RateLimiter(counted, fail_open=False).check(subject, 2, now=NOW + 1)
    # Then the late container, whose clock still says the first second, is refused: 2 are counted
    assert not _admitted(RateLimiter(late, fail_open=False), subject, 2, NOW + 0.9)


def test_dynamodb_removes_buckets_out_of_the_window_and_sets_a_ttl(aws):
    store = DynamoDbWindows(TABLE)
    subject = _subject()
    RateLimiter(store, fail_open=False).check(subject, 5, now=NOW)
    RateLimiter(store, fail_open=False).check(subject, 5, now=NOW + 70)
    item = _item(subject)["Item"]
    assert {name for name in item if name.startswith("s")} == {f"s{int(NOW) + 70}"}
    assert item["latest"]["N"] == str(int(NOW) + 70)
    assert int(item["expires_at"]["N"]) == int(NOW) + 70 + 62
    store.ping()


def test_a_missing_dynamodb_table_fails_open_or_closed_as_configured(aws):
    subject = _subject()
    assert RateLimiter(DynamoDbWindows("no-such-table"), fail_open=True).check(subject, 5) is None
    with pytest.raises(AppError) as refused:
        RateLimiter(DynamoDbWindows("no-such-table"), fail_open=False).check(subject, 5)
    assert refused.value.code == ErrorCode.RATE_LIMITER_UNAVAILABLE


def test_dynamodb_admission_still_contended_after_its_attempts_meets_an_unavailable_limiter(aws):
    # Given a store whose every conditional write loses to another container's
    store = DynamoDbWindows(TABLE)
    conflict = store._client.exceptions.ConditionalCheckFailedException

    def always_beaten(*args, **kwargs):
        raise conflict({"Error": {"Code": "ConditionalCheckFailedException"}}, "UpdateItem")

    store._count = always_beaten
    # Then the request is served unlimited (fail open) or refused with 503 (fail closed), not looped on
    assert RateLimiter(store, fail_open=True).check(_subject(), 5, now=NOW) is None
    with pytest.raises(AppError) as refused:
        RateLimiter(store, fail_open=False).check(_subject(), 5, now=NOW)
    assert refused.value.code == ErrorCode.RATE_LIMITER_UNAVAILABLE
