"""GET /v1/signals/analytics: a user's signal statistics, aggregated by the database.

Four GROUP BY queries (status x direction, symbol, created per day, closed per day) do the counting
and summing; Python only adds up the grouped rows and divides. Sums are exact (`ExactSum`) and every
ratio is rounded here, the same way whatever the backend, so SQLite, PostgreSQL and MariaDB answer
identically.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from fractions import Fraction

from investment_system.db import unit_of_work
from investment_system.db.base import utcnow
from investment_system.domain import CONFIDENCE_SCALE, RETURN_SCALE
from investment_system.models.signals import Signal
from investment_system.observability import MetricName, timed
from investment_system.repositories.signals.signals import SignalRepository, SymbolAggregate
from investment_system.schemas.signal_analytics import (
    ClosedStats,
    DailyCounts,
    DirectionCounts,
    SignalAnalytics,
    StatusCounts,
    SymbolStats,
)
from investment_system.schemas.signals import SignalFilters
from investment_system.services.signals.reads import check_date_range, return_text, round_half_up

RATE_PLACES = 4


def signal_analytics(user_id: uuid.UUID, filters: SignalFilters) -> SignalAnalytics:
    check_date_range(filters.created_from, filters.created_to)
    with unit_of_work() as session:
        now = utcnow()
        repository = SignalRepository(session)
        with timed(MetricName.SIGNAL_ANALYTICS_LATENCY):
            groups = repository.count_by_status_and_direction(user_id, filters, now)
            symbols = repository.aggregate_by_symbol(user_id, filters)
            created = repository.count_per_day(user_id, filters, Signal.created_at)
            closed = repository.count_per_day(user_id, filters, Signal.closed_at)

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
