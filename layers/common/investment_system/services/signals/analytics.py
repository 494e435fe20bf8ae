"""GET /v1/signals/analytics: a user's signal statistics, aggregated by the database.

One statement groups the rows four ways (status x direction, symbol, created per day, closed per day),
with the user's outbox position, which names the statistics in the cache (analytics_cache.py); Python
only adds up the grouped rows and divides. Sums are exact (`ExactSum`) and every ratio is rounded here,
the same way whatever the backend, so SQLite, PostgreSQL and MariaDB answer identically.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from sqlalchemy.orm import Session

from investment_system.domain import CONFIDENCE_SCALE, RETURN_SCALE
from investment_system.observability import MetricName, add_metric
from investment_system.repositories.signals.analytics import (
    AnalyticsAggregates,
    SignalAnalyticsRepository,
    SymbolAggregate,
)
from investment_system.schemas.signal_analytics import (
    ClosedStats,
    DailyCounts,
    DirectionCounts,
    SignalAnalytics,
    StatusCounts,
    SymbolStats,
)
from investment_system.schemas.signals import SignalFilters
from investment_system.services.signals.reads import return_text, round_half_up

RATE_PLACES = 4


@dataclass(frozen=True)
class Statistics:
    analytics: SignalAnalytics
    outbox_position: int  # the user's, read with the statistics: they hold until it moves on
    next_expiry: datetime | None  # or until then, when an OPEN signal they count becomes EXPIRED


def statistics_unless_at(
    session: Session, user_id: uuid.UUID, filters: SignalFilters, now: datetime, unless_at: int | None
) -> Statistics | None:
    """A step: the statistics of the user's signals matching `filters` as they stand at `now`, read with
    the user's outbox position in one statement; None, nothing aggregated, while the position is still
    `unless_at`."""
    started = time.perf_counter()  # timed when computed: a kept answer's check is not the aggregates' cost
    position, aggregates = SignalAnalyticsRepository(session).analytics_unless_at(user_id, filters, now, unless_at)
    if aggregates is None:
        return None
    add_metric(MetricName.SIGNAL_ANALYTICS_LATENCY, (time.perf_counter() - started) * 1000)
    return Statistics(_analytics(aggregates), position, aggregates.next_expiry)


def _analytics(aggregates: AnalyticsAggregates) -> SignalAnalytics:
    groups, symbols, created, closed = aggregates.groups, aggregates.symbols, aggregates.created, aggregates.closed
    by_status, by_direction = StatusCounts(), DirectionCounts()
    confidence_sum = Decimal(0)
    for group in groups:
        expired_now = group.overdue
        _add(by_status, group.status, group.count - expired_now)
        _add(by_status, "EXPIRED", expired_now)
        _add(by_direction, group.direction, group.count)
        confidence_sum += group.confidence_sum
    total = sum(group.count for group in groups)

    return SignalAnalytics(
        total=total,
        by_status=by_status,
        by_direction=by_direction,
        average_confidence=_ratio(confidence_sum, total, CONFIDENCE_SCALE),
        closed=_closed_stats(symbols),
        by_symbol=[
            SymbolStats(
                symbol=aggregate.symbol,
                total=aggregate.total,
                closed=aggregate.closed,
                win_rate=_ratio(aggregate.wins, aggregate.closed),
                average_return_pct=_average_return(aggregate.return_sum, aggregate.closed),
            )
            for aggregate in symbols
        ],
        daily=[
            DailyCounts(date=day, created=created.get(day, 0), closed=closed.get(day, 0))
            for day in sorted(created.keys() | closed.keys())
        ],
    )


def _closed_stats(symbols: list[SymbolAggregate]) -> ClosedStats:
    count = sum(s.closed for s in symbols)
    wins = sum(s.wins for s in symbols)
    bests = [s.best_return for s in symbols if s.best_return is not None]
    worsts = [s.worst_return for s in symbols if s.worst_return is not None]
    return ClosedStats(
        count=count,
        wins=wins,
        losses=sum(s.losses for s in symbols),
        win_rate=_ratio(wins, count),
        average_return_pct=_average_return(sum((s.return_sum for s in symbols), Decimal(0)), count),
        best_return_pct=return_text(max(bests)) if bests else None,
        worst_return_pct=return_text(min(worsts)) if worsts else None,
    )


def _add(counts: StatusCounts | DirectionCounts, key: str, amount: int) -> None:
    setattr(counts, key, getattr(counts, key) + amount)


def _ratio(numerator: Decimal | int, denominator: int, places: int = RATE_PLACES) -> float | None:
    return None if denominator == 0 else float(round_half_up(Fraction(numerator) / denominator, places))


def _average_return(total: Decimal, count: int) -> str | None:
    return None if count == 0 else return_text(round_half_up(Fraction(total) / count, RETURN_SCALE))
