"""Analytics cached and uncached: GET /v1/signals/analytics over 100 000 signals of one user, on SQLite and
PostgreSQL, each answer computed (ANALYTICS_CACHE_TTL_SECONDS=0), then served from the cache (the
`memory` backend's, this process's). The cached answer still reads the cache, then the user's outbox
position (one primary-key read); the target is a cached p50 of at most 5 % of the uncached one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from invest_dev.bench.environment import scratch_database
from invest_dev.bench.measure import percentile
from invest_dev.bench.scenarios import BenchContext, ScenarioResult, scenario
from invest_dev.bench.scenarios.signals import BACKENDS, MAX_ANALYTICS_CALLS, _seed, _timed, _with_query

SIZE = 100_000
TTL_VARIABLE = "ANALYTICS_CACHE_TTL_SECONDS"
CACHED_CALLS = 300
TARGET = 0.05


@contextmanager
def analytics_cache(ttl_seconds: int | None) -> Iterator[None]:
    """The functions of this process with the analytics cache's TTL at `ttl_seconds` (0: off; None: the
    default) inside the block."""
    from investment_system.settings import get_settings

    previous = os.environ.get(TTL_VARIABLE)
    _set(None if ttl_seconds is None else str(ttl_seconds))
    get_settings.cache_clear()
    try:
        yield
    finally:
        _set(previous)
        get_settings.cache_clear()


def _set(value: str | None) -> None:
    if value is None:
        os.environ.pop(TTL_VARIABLE, None)
    else:
        os.environ[TTL_VARIABLE] = value


@scenario
def analytics_cached_and_uncached(ctx: BenchContext) -> list[ScenarioResult]:
    results = []
    for backend in BACKENDS:
        with scratch_database(backend) as engine:
            _seed(engine, ctx.users.user_id, SIZE)
            # Every signal of the user's: the sample event's `created_from` keeps none of the seeded ones.
            event = _with_query(ctx.event("GetSignalAnalyticsFunction"), {})
            where = f"{SIZE:_} signals, {backend}".replace("_", " ")
            with analytics_cache(0):
                uncached = _timed(
                    ctx, "GetSignalAnalyticsFunction", event, min(ctx.iterations, MAX_ANALYTICS_CALLS[SIZE])
                )
            with analytics_cache(None):
                cached = _timed(ctx, "GetSignalAnalyticsFunction", event, min(ctx.iterations, CACHED_CALLS))
            # What any authenticated read of one row costs here: the floor under a cached answer.
            floor = _timed(ctx, "GetMeFunction", ctx.event("GetMeFunction"), min(ctx.iterations, CACHED_CALLS))
            ratio = percentile(cached, 50) / percentile(uncached, 50)
            verdict = "meets" if ratio <= TARGET else "misses"
            results += [
                ScenarioResult(f"GET /v1/signals/analytics, uncached ({where})", uncached, "computed every time"),
                ScenarioResult(
                    f"GET /v1/signals/analytics, cached ({where})",
                    cached,
                    f"p50 {ratio:.1%} of uncached ({verdict} the {TARGET:.0%} target)",
                ),
                ScenarioResult(f"GET /v1/users/me, for comparison ({backend})", floor, "a token check and one row"),
            ]
    return results
