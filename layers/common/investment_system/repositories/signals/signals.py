"""Data access for signals: a user's own rows, filtered pages, the analytics aggregates, overdue rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Dialect,
    Executable,
    Select,
    Update,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    update,
)

from investment_system.db.base import utcnow
from investment_system.db.decimals import ExactSum
from investment_system.db.engine import precompile
from investment_system.domain import Direction, SignalStatus
from investment_system.models.signals import Signal
from investment_system.repositories.base import Repository, page_statement
from investment_system.schemas.signals import SignalFilters, SignalListQuery

_OPEN, _CLOSED, _EXPIRED = SignalStatus.OPEN.value, SignalStatus.CLOSED.value, SignalStatus.EXPIRED.value


def is_overdue(now: datetime) -> ColumnElement[bool]:
    """Still stored as OPEN, but past its expiry: every read reports it EXPIRED."""
    return and_(Signal.status == _OPEN, Signal.expires_at <= now)


def has_effective_status(status: SignalStatus, now: datetime) -> ColumnElement[bool]:
    if status is SignalStatus.OPEN:
        return and_(Signal.status == _OPEN, or_(Signal.expires_at.is_(None), Signal.expires_at > now))
    if status is SignalStatus.EXPIRED:
        return or_(Signal.status == _EXPIRED, is_overdue(now))
    return Signal.status == _CLOSED


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


# A user's signal, unless deleted (a read, and a change's read of the row it locks): built once, its
# values bound when executed, as every request of a signal's own runs it.
_OWNED = select(Signal).where(
    Signal.id == bindparam("signal_id"), Signal.user_id == bindparam("user_id"), Signal.deleted_at.is_(None)
)
_OWNED_FOR_UPDATE = _OWNED.with_for_update()


def _listing(user_id: uuid.UUID, query: SignalListQuery, now: datetime) -> Select[Signal]:
    """The user's signals a listing asks for, before paging."""
    # MariaDB's planner prefers a `ref` lookup on the leading columns to the range the cursor gives
    # (it then reads every newer row to reach a deep page); naming the index makes it seek.
    statement = (
        select(Signal)
        .with_hint(Signal, f"FORCE INDEX ({_index_serving(query)})", dialect_name="mysql")
        .where(*_scope(user_id, query))
    )
    if query.direction is not None:
        statement = statement.where(Signal.direction == query.direction.value)
    if query.status is not None:
        statement = statement.where(has_effective_status(query.status, now))
    return statement


def _scope(user_id: uuid.UUID, filters: SignalFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Signal.user_id == user_id, Signal.deleted_at.is_(None)]
    if filters.symbol is not None:
        conditions.append(Signal.symbol == filters.symbol)
    if filters.strategy is not None:
        conditions.append(Signal.strategy == filters.strategy)
    if filters.created_from is not None:
        conditions.append(Signal.created_at >= filters.created_from)
    if filters.created_to is not None:
        conditions.append(Signal.created_at < filters.created_to)
    return conditions


def _by_id(signal_id: uuid.UUID) -> Select[Signal]:
    """The row as stored now, loaded over what the session holds of it (deleted or not)."""
    return select(Signal).where(Signal.id == signal_id).execution_options(populate_existing=True)


def _update_if_open(signal_id: uuid.UUID, now: datetime, values: dict[str, Any]) -> Update:
    return (
        update(Signal)
        .where(Signal.id == signal_id, Signal.deleted_at.is_(None), has_effective_status(SignalStatus.OPEN, now))
        .values(**values)
    )


def closing_values(exit_price: Decimal, return_pct: Decimal, now: datetime) -> dict[str, Any]:
    """What closing a signal changes (`SignalRepository.update_if_open`)."""
    return {"status": _CLOSED, "exit_price": exit_price, "return_pct": return_pct, "closed_at": now, "updated_at": now}


def _soft_delete(signal_id: uuid.UUID, now: datetime) -> Update:
    return (
        update(Signal).where(Signal.id == signal_id, Signal.deleted_at.is_(None)).values(deleted_at=now, updated_at=now)
    )


def _confidence_sum(dialect: Dialect) -> ExactSum:
    return ExactSum(Signal.confidence, dialect, "confidence")


def _return_sum(dialect: Dialect) -> ExactSum:
    return ExactSum(Signal.return_pct, dialect, "return_sum")


def _by_status_and_direction(
    confidence: ExactSum, user_id: uuid.UUID, filters: SignalFilters, now: datetime
) -> Select[Any]:
    return (
        select(
            Signal.status,
            Signal.direction,
            func.count().label("n"),
            # Comparing with `now` in an aggregate, not in GROUP BY: PostgreSQL would not see
            # two bound parameters as the same expression.
            _count_where(Signal.expires_at <= now).label("overdue"),
            *confidence.columns,
        )
        .where(*_scope(user_id, filters))
        .group_by(Signal.status, Signal.direction)
    )


def _by_symbol(returns: ExactSum, user_id: uuid.UUID, filters: SignalFilters) -> Select[Any]:
    total = func.count().label("total")
    return (
        select(
            Signal.symbol,
            total,
            func.count(Signal.return_pct).label("closed"),
            _count_where(Signal.return_pct > 0).label("wins"),
            _count_where(Signal.return_pct < 0).label("losses"),
            *returns.columns,
            func.max(Signal.return_pct).label("best"),
            func.min(Signal.return_pct).label("worst"),
        )
        .where(*_scope(user_id, filters))
        .group_by(Signal.symbol)
        .order_by(total.desc(), Signal.symbol)
    )


def _per_day(user_id: uuid.UUID, filters: SignalFilters, column: Any) -> Select[date, int]:
    # type_=Date: the driver's date on PostgreSQL and MariaDB, SQLite's 'YYYY-MM-DD' text parsed.
    day = func.date(column, type_=Date).label("day")
    return select(day, func.count().label("n")).where(*_scope(user_id, filters), column.is_not(None)).group_by(day)


def _analytics(dialect: Dialect, user_id: uuid.UUID, filters: SignalFilters, now: datetime) -> list[Executable]:
    return [
        _by_status_and_direction(_confidence_sum(dialect), user_id, filters, now),
        _by_symbol(_return_sum(dialect), user_id, filters),
        _per_day(user_id, filters, Signal.created_at),
        _per_day(user_id, filters, Signal.closed_at),
    ]


def _primed_listings(now: datetime) -> list[SignalListQuery]:
    """Each combination of filters is a statement of its own. Those compiled before a snapshot (of 128):
    none, each alone, and a symbol with a status or a direction."""
    return [
        SignalListQuery(),
        SignalListQuery(symbol="X"),
        SignalListQuery(strategy="x"),
        SignalListQuery(created_from=now),
        SignalListQuery(created_to=now),
        SignalListQuery(direction=Direction.BUY),
        *(SignalListQuery(status=status) for status in SignalStatus),
        *(SignalListQuery(symbol="X", status=status) for status in SignalStatus),
        SignalListQuery(symbol="X", direction=Direction.BUY),
    ]


def _primed(dialect: Dialect) -> list[Executable]:
    """What a first request to a signal's function runs, with the values of none: one signal (its read,
    its history) and the first page of the listings of `_primed_listings`; a change's read of the signal
    it locks, its close or delete and the re-read after it; the analytics of all signals and of those
    created since a date."""
    nobody, now = uuid.UUID(int=0), utcnow()
    return [
        _OWNED,
        *(
            page_statement(Signal, _listing(nobody, listing, now), limit=listing.limit, cursor=None, scope="")
            for listing in _primed_listings(now)
        ),
        _OWNED_FOR_UPDATE,
        _update_if_open(nobody, now, closing_values(Decimal(0), Decimal(0), now)),
        _soft_delete(nobody, now),
        _by_id(nobody),
        *_analytics(dialect, nobody, SignalFilters(), now),
        *_analytics(dialect, nobody, SignalFilters(created_from=now), now),
    ]


# Compiled before a SnapStart snapshot (db.engine.precompile).
precompile(_primed)


class SignalRepository(Repository[Signal]):
    model = Signal

    def owned(self, user_id: uuid.UUID, signal_id: uuid.UUID, *, for_update: bool = False) -> Signal | None:
        """The user's signal, unless deleted; None for a missing id and for another user's alike."""
        statement = _OWNED_FOR_UPDATE if for_update else _OWNED
        return self.session.scalars(statement, {"user_id": user_id, "signal_id": signal_id}).first()

    # Every change is a conditional UPDATE: its WHERE is checked again at write time, so two writers
    # cannot both close, expire or delete one signal. PostgreSQL and MariaDB also lock the row when
    # it is read for a change; SQLite has no row locks, and these conditions are what protect it.

    def update_if_open(self, signal_id: uuid.UUID, now: datetime, values: dict[str, Any]) -> bool:
        """Apply `values` if the signal is still OPEN (not overdue) and not deleted; whether it was."""
        return self.execute_update(_update_if_open(signal_id, now, values)) == 1

    def reread(self, signal: Signal) -> Signal:
        """`signal` as stored now: a conditional UPDATE leaves the session's copy as it was."""
        return self.session.scalars(_by_id(signal.id)).one()

    def expire_if_overdue(self, signal_id: uuid.UUID, cutoff: datetime, now: datetime) -> bool:
        statement = (
            update(Signal)
            .where(Signal.id == signal_id, Signal.deleted_at.is_(None), is_overdue(cutoff))
            .values(status=_EXPIRED, updated_at=now)
        )
        return self.execute_update(statement) == 1

    def soft_delete(self, signal_id: uuid.UUID, now: datetime) -> bool:
        return self.execute_update(_soft_delete(signal_id, now)) == 1

    def page_of(self, user_id: uuid.UUID, query: SignalListQuery, now: datetime) -> tuple[Sequence[Signal], str | None]:
        statement = _listing(user_id, query, now)
        return self.page(statement, limit=query.limit, cursor=query.cursor, scope=f"signals:{user_id}")

    def count_by_status_and_direction(
        self, user_id: uuid.UUID, filters: SignalFilters, now: datetime
    ) -> list[StatusDirectionCount]:
        confidence = _confidence_sum(self._dialect())
        statement = _by_status_and_direction(confidence, user_id, filters, now)
        return [
            StatusDirectionCount(
                status=row.status,
                direction=row.direction,
                count=int(row.n),
                overdue=int(row.overdue) if row.status == _OPEN else 0,
                confidence_sum=confidence.value(row),
            )
            for row in self.session.execute(statement)
        ]

    def aggregate_by_symbol(self, user_id: uuid.UUID, filters: SignalFilters) -> list[SymbolAggregate]:
        """Per symbol, most signals first; the closed-signal figures come from `return_pct`, set only on close."""
        returns = _return_sum(self._dialect())
        statement = _by_symbol(returns, user_id, filters)
        return [
            SymbolAggregate(
                symbol=row.symbol,
                total=int(row.total),
                closed=int(row.closed),
                wins=int(row.wins),
                losses=int(row.losses),
                return_sum=returns.value(row),
                best_return=row.best,
                worst_return=row.worst,
            )
            for row in self.session.execute(statement)
        ]

    def count_per_day(self, user_id: uuid.UUID, filters: SignalFilters, column: Any) -> dict[date, int]:
        """How many of the user's signals have `column` (created_at or closed_at) on each UTC day."""
        statement = _per_day(user_id, filters, column)
        return {row.day: int(row.n) for row in self.session.execute(statement)}

    def overdue_batch(self, now: datetime, limit: int) -> Sequence[Signal]:
        """Up to `limit` overdue OPEN signals, locked; rows another worker holds are skipped, not waited for."""
        statement = (
            select(Signal)
            .where(is_overdue(now), Signal.deleted_at.is_(None))
            .order_by(Signal.expires_at, Signal.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return self.session.scalars(statement).all()

    def _dialect(self) -> Any:
        return self.session.get_bind().dialect


def _index_serving(query: SignalListQuery) -> str:
    """The index whose range scan serves this listing: equality columns first, then (created_at, id)."""
    if query.symbol is not None:
        return "ix_signals_user_symbol_created"
    if query.strategy is not None:
        return "ix_signals_user_strategy_created"
    if query.status in (SignalStatus.OPEN, SignalStatus.CLOSED):  # EXPIRED is an OR of two statuses
        return "ix_signals_user_status_created"
    return "ix_signals_user_created"


def _count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    # COUNT(CASE ...) rather than COUNT(*) FILTER (...), which MySQL and MariaDB lack.
    return func.count(case((condition, 1)))
