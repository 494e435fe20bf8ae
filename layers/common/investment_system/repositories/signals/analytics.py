"""GET /v1/signals/analytics' one statement: the user's outbox position and every grouping of the statistics
of their signals, in one snapshot (services/signals/analytics_cache.py says why)."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Date,
    Row,
    Select,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from investment_system.db.decimals import ExactSum
from investment_system.domain import SignalStatus
from investment_system.models.signals import Signal
from investment_system.models.stream import UserStream
from investment_system.repositories.signals.signals import given_filters, signal_scope
from investment_system.schemas.signals import SignalFilters

_OPEN = SignalStatus.OPEN.value


@dataclass(frozen=True)
class StatusDirectionCount:
    status: str  # as stored
    direction: str
    count: int
    overdue: int  # of `count`, stored OPEN but past expiry
    confidence_sum: Decimal


@dataclass(frozen=True)
class SymbolAggregate:
    symbol: str
    total: int
    closed: int
    wins: int
    losses: int
    return_sum: Decimal
    best_return: Decimal | None
    worst_return: Decimal | None


@dataclass(frozen=True)
class AnalyticsAggregates:
    groups: list[StatusDirectionCount]
    symbols: list[SymbolAggregate]  # most signals first; the closed figures from `return_pct`, set only on close
    created: dict[date, int]  # signals created on each UTC day
    closed: dict[date, int]  # signals closed on each UTC day
    next_expiry: datetime | None  # when the first OPEN signal expires, changing the figures without a write


_CONFIDENCE_SUM = ExactSum(Signal.confidence, "confidence")
_RETURN_SUM = ExactSum(Signal.return_pct, "return_sum")


def _by_status_and_direction(scope: list[ColumnElement[bool]], now: ColumnElement[datetime]) -> Select[Any]:
    return (
        select(
            Signal.status,
            Signal.direction,
            func.count().label("n"),
            # Comparing with `now` in an aggregate, not in GROUP BY: PostgreSQL would not see
            # two bound parameters as the same expression.
            _count_where(Signal.expires_at <= now).label("overdue"),
            *_CONFIDENCE_SUM.columns,
        )
        .where(*scope)
        .group_by(Signal.status, Signal.direction)
    )


def _by_symbol(scope: list[ColumnElement[bool]]) -> Select[Any]:
    return (
        select(
            Signal.symbol,
            func.count().label("total"),
            func.count(Signal.return_pct).label("closed"),
            _count_where(Signal.return_pct > 0).label("wins"),
            _count_where(Signal.return_pct < 0).label("losses"),
            *_RETURN_SUM.columns,
            func.max(Signal.return_pct).label("best"),
            func.min(Signal.return_pct).label("worst"),
        )
        .where(*scope)
        .group_by(Signal.symbol)
    )


def _per_day(scope: list[ColumnElement[bool]], column: Any) -> Select[date, int]:
    # type_=Date: the driver's date on PostgreSQL and MariaDB, SQLite's 'YYYY-MM-DD' text parsed.
    day = func.date(column, type_=Date).label("day")
    return select(day, func.count().label("n")).where(*scope, column.is_not(None)).group_by(day)


def _next_expiry(scope: list[ColumnElement[bool]], now: ColumnElement[datetime]) -> Select[datetime | None]:
    # OPEN and not overdue yet, so expiring after `now`.
    open_until_expiry = and_(Signal.status == _OPEN, Signal.expires_at > now)
    return select(func.min(Signal.expires_at).label("next_expiry")).where(*scope, open_until_expiry)


def _outbox_position(user_id: ColumnElement[uuid.UUID]) -> ColumnElement[int]:
    """How far the user's stream outbox has gone, the id of their last event (0 before the first): every
    change of a signal moves it on, in the change's own transaction."""
    last_event_id = select(UserStream.last_event_id).where(UserStream.user_id == user_id).scalar_subquery()
    return func.coalesce(last_event_id, 0)


# A kept answer's check: the user's outbox position alone, one primary-key read.
_POSITION = select(_outbox_position(bindparam("user_id")))


@cache
def _analytics(filters: frozenset[str]) -> CompoundSelect[Any]:
    """The user's outbox position and every grouping of the analytics in one statement, so in one snapshot:
    a UNION ALL whose rows name their grouping in `kind`, NULL in the other groupings' columns.

    Built once per set of filters given, as building it costs more than a kept answer's whole request;
    its values are bound when executed: `user_id`, `now`, each filter's."""
    scope = signal_scope(bindparam("user_id"), {name: bindparam(name) for name in sorted(filters)})
    now: BindParameter[datetime] = bindparam("now")
    position = _outbox_position(bindparam("user_id"))
    groupings = {
        "status": _by_status_and_direction(scope, now),
        "symbol": _by_symbol(scope),
        "created": _per_day(scope, Signal.created_at),
        "closed": _per_day(scope, Signal.closed_at),
        "expiry": _next_expiry(scope, now),
    }
    groupings = {"position": select(position.label("position")), **groupings}
    types = {name: column.type for grouping in groupings.values() for name, column in grouping.selected_columns.items()}
    rows = [
        _as_union_row(kind, grouping, types, first=not index)
        for index, (kind, grouping) in enumerate(groupings.items())
    ]
    # By symbol, most signals first (the other groupings' order does not matter).
    return union_all(*rows).order_by(literal_column("total").desc(), literal_column("symbol"))


def _as_union_row(kind: str, grouping: Select[Any], types: dict[str, TypeEngine[Any]], *, first: bool) -> Select[Any]:
    """`grouping` with every column of the union, in the same order: its own, and NULLs. The first SELECT's
    are typed: PostgreSQL resolves the union's types from it, and SQLAlchemy reads the rows with them."""
    own = dict(grouping.selected_columns.items())
    columns = [
        (own[name] if name in own else cast(null(), type_) if first else null()).label(name)
        for name, type_ in types.items()
    ]
    return grouping.with_only_columns(literal_column(f"'{kind}'").label("kind"), *columns)


def _status_direction_count(row: Row[Any]) -> StatusDirectionCount:
    return StatusDirectionCount(
        status=row.status,
        direction=row.direction,
        count=int(row.n),
        overdue=int(row.overdue) if row.status == _OPEN else 0,
        confidence_sum=_CONFIDENCE_SUM.value(row),
    )


def _symbol_aggregate(row: Row[Any]) -> SymbolAggregate:
    return SymbolAggregate(
        symbol=row.symbol,
        total=int(row.total),
        closed=int(row.closed),
        wins=int(row.wins),
        losses=int(row.losses),
        return_sum=_RETURN_SUM.value(row),
        best_return=row.best,
        worst_return=row.worst,
    )


class SignalAnalyticsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def analytics_unless_at(
        self, user_id: uuid.UUID, filters: SignalFilters, now: datetime, unless_at: int | None
    ) -> tuple[int, AnalyticsAggregates | None]:
        """The user's outbox position and, unless it is still `unless_at`, the aggregates of their signals
        matching `filters` as they stand at `now`, read with the position in one statement, so the figures
        are exactly those of that position (every change of a signal moves it on, in the change's
        transaction). A position still at `unless_at` is one primary-key read: PostgreSQL would plan, and
        start parallel workers for, the aggregates even to skip them."""
        if unless_at is not None:
            position = int(self.session.execute(_POSITION, {"user_id": user_id}).scalar_one())
            if position == unless_at:
                return position, None
        given = given_filters(filters)
        statement = _analytics(frozenset(given))
        parameters = {"user_id": user_id, "now": now, **given}
        rows: dict[str, list[Row[Any]]] = {}
        for row in self.session.execute(statement, parameters):
            rows.setdefault(row.kind, []).append(row)
        position = int(rows["position"][0].position)
        return position, AnalyticsAggregates(
            groups=[_status_direction_count(row) for row in rows.get("status", [])],
            symbols=[_symbol_aggregate(row) for row in rows.get("symbol", [])],
            created={row.day: int(row.n) for row in rows.get("created", [])},
            closed={row.day: int(row.n) for row in rows.get("closed", [])},
            next_expiry=rows["expiry"][0].next_expiry,
        )


def _count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    # COUNT(CASE ...) rather than COUNT(*) FILTER (...), which MySQL and MariaDB lack.
    return func.count(case((condition, 1)))
