"""GET /v1/signals/analytics through its cache, on SQLite, PostgreSQL and MariaDB, with the cache in memory
and on Redis: a user reads their own writes at once, an unchanged user's answer comes from the cache, a
signal's expiry ends the answer that counted it OPEN, and a cache that is down costs a miss, never an error."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from investment_system.db.base import utcnow
from tests.support.billing import count_metrics_from_here, emitted_metrics
from tests.support.signals import (
    ANALYTICS,
    CLOSE,
    CREATE,
    DELETE,
    UPDATE,
    buy_body,
    call,
    create,
    make_investor,
    set_row,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@contextmanager
def _use_cache(settings_env: pytest.MonkeyPatch, backend: str, **variables: str) -> Iterator[None]:
    settings_env.setenv("RATE_LIMIT_BACKEND", backend)
    for name, value in variables.items():
        settings_env.setenv(name, value)
    yield


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def cache_backend(request, settings_env) -> Iterator[str]:
    """The analytics cache on the rate limiter's backend: this process's memory, or Redis."""
    with _use_cache(settings_env, request.param, REDIS_URL=REDIS_URL):
        yield request.param


def _analytics(investor) -> dict:
    reply = call(ANALYTICS, investor)
    assert reply.status == 200, reply.text
    return reply.json


def test_a_user_reads_their_own_writes_at_once(db, cache_backend):
    investor = make_investor()
    # When the investor creates a signal, reads the analytics, closes it, reads them again, then deletes it
    signal = create(investor)
    after_create = _analytics(investor)
    assert call(CLOSE, investor, signal["id"], json_body={"exit_price": "196.6125"}).status == 200
    after_close = _analytics(investor)
    assert call(DELETE, investor, signal["id"]).status == 204
    after_delete = _analytics(investor)
    # Then each answer is exact: the change before it is always in it
    assert (after_create["total"], after_create["by_status"]) == (1, {"OPEN": 1, "CLOSED": 0, "EXPIRED": 0})
    assert after_create["closed"]["count"] == 0
    assert (after_close["total"], after_close["by_status"]) == (1, {"OPEN": 0, "CLOSED": 1, "EXPIRED": 0})
    assert (after_close["closed"]["count"], after_close["closed"]["average_return_pct"]) == (1, "5.0000")
    assert after_delete["total"] == 0


def test_an_unchanged_users_answer_comes_from_the_cache_until_their_next_change(db, cache_backend, capsys):
    investor = make_investor()
    signal = create(investor)
    first = _analytics(investor)
    # Given the row changed behind the API's back (no change of theirs went through the outbox)
    set_row(signal["id"], confidence="0.25")
    count_metrics_from_here(capsys)
    # When the investor asks again, then changes a signal and asks once more
    again = _analytics(investor)
    metrics = emitted_metrics(capsys.readouterr().out)
    assert call(UPDATE, investor, signal["id"], json_body={"notes": "revised"}).status == 200
    after_change = _analytics(investor)
    # Then the second answer was the cached one, and their own change brought the database's
    assert again == first
    assert (metrics.get("AnalyticsCacheHits"), metrics.get("AnalyticsCacheMisses")) == (1, None)
    assert (first["average_confidence"], after_change["average_confidence"]) == (0.75, 0.25)


def test_each_set_of_filters_is_an_answer_of_its_own(db, cache_backend):
    investor = make_investor()
    create(investor, buy_body(symbol="AAPL"))
    create(investor, buy_body(symbol="MSFT"))
    # When the investor asks for all signals, then for one symbol
    everything = _analytics(investor)
    one_symbol = call(ANALYTICS, investor, query={"symbol": "msft"}).json
    # Then each answer counts what its filters select
    assert (everything["total"], one_symbol["total"]) == (2, 1)
    assert [row["symbol"] for row in one_symbol["by_symbol"]] == ["MSFT"]


@pytest.mark.slow
def test_an_answer_ends_when_a_signal_it_counts_as_open_expires(db, cache_backend):
    investor = make_investor()
    expires_at = utcnow() + timedelta(seconds=2)
    create(investor, buy_body(expires_at=expires_at.isoformat()))
    before = _analytics(investor)
    # When its expiry passes, with no write at all
    time.sleep(max(0.0, (expires_at - utcnow()).total_seconds()) + 0.2)
    after = _analytics(investor)
    # Then the answer counts it EXPIRED
    assert before["by_status"] == {"OPEN": 1, "CLOSED": 0, "EXPIRED": 0}
    assert after["by_status"] == {"OPEN": 0, "CLOSED": 0, "EXPIRED": 1}


def test_a_cache_that_is_down_costs_a_miss_not_an_error(db, settings_env, capsys):
    with _use_cache(settings_env, "redis", REDIS_URL=UNREACHABLE_REDIS_URL):
        _ask_twice_while_the_cache_is_down(capsys)


def _ask_twice_while_the_cache_is_down(capsys) -> None:
    investor = make_investor()
    create(investor)
    count_metrics_from_here(capsys)
    # When the investor asks for the analytics twice while the cache's Redis is unreachable
    answers = [call(ANALYTICS, investor) for _ in range(2)]
    # Then both are answered, exactly, and the failures are counted
    assert [(reply.status, reply.json["total"]) for reply in answers] == [(200, 1), (200, 1)]
    assert emitted_metrics(capsys.readouterr().out).get("AnalyticsCacheUnavailable", 0) >= 2


def test_a_ttl_of_zero_computes_every_answer(db, settings_env):
    with _use_cache(settings_env, "memory", ANALYTICS_CACHE_TTL_SECONDS="0"):
        investor = make_investor()
        signal = create(investor)
        _analytics(investor)
        set_row(signal["id"], confidence="0.25")
        # When the row changed behind the API's back, the next answer already shows it: nothing was kept
        assert _analytics(investor)["average_confidence"] == 0.25


def test_another_users_change_leaves_an_answer_cached(db, cache_backend):
    investor, other = make_investor(), make_investor("other")
    signal = create(investor)
    first = _analytics(investor)
    set_row(signal["id"], confidence="0.25")
    # When someone else creates a signal
    assert call(CREATE, other, json_body=buy_body()).status == 201
    # Then the investor's answer is still the cached one (their outbox did not move)
    assert _analytics(investor) == first
