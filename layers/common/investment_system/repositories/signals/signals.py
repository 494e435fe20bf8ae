"""Data access for signals: a user's own rows, filtered pages, the analytics aggregates, overdue rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    or_,
    select,
    update,
)

from investment_system.domain import SignalStatus
from investment_system.models.signals import Signal
from investment_system.repositories.base import Repository
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
        .where(*signal_scope(user_id, given_filters(query)))
    )
    if query.direction is not None:
        statement = statement.where(Signal.direction == query.direction.value)
    if query.status is not None:
        statement = statement.where(has_effective_status(query.status, now))
    return statement


# What each filter keeps, the list's and the analytics' alike, given its value or a bound parameter.
_FILTERS: dict[str, Callable[[Any], ColumnElement[bool]]] = {
    "symbol": lambda value: Signal.symbol == value,
    "strategy": lambda value: Signal.strategy == value,
    "created_from": lambda value: Signal.created_at >= value,
    "created_to": lambda value: Signal.created_at < value,
}


def given_filters(filters: SignalFilters) -> dict[str, Any]:
    """The filters given a value, by name."""
    return {name: value for name in _FILTERS if (value := getattr(filters, name)) is not None}


def signal_scope(user_id: Any, filters: dict[str, Any]) -> list[ColumnElement[bool]]:
    """The user's signals, unless deleted, that `filters` keep (`given_filters`'s, or bound parameters)."""
    kept = (_FILTERS[name](value) for name, value in filters.items())
    return [Signal.user_id == user_id, Signal.deleted_at.is_(None), *kept]


class SignalRepository(Repository[Signal]):
    model = Signal

    def owned(self, user_id: uuid.UUID, signal_id: uuid.UUID, *, for_update: bool = False) -> Signal | None:
        """The user's signal, unless deleted; None for a missing id and for another user's alike."""
        statement = _OWNED_FOR_UPDATE if for_update else _OWNED
        return self.session.scalars(statement, {"user_id": user_id, "signal_id": signal_id}).first()

    # Every change is a conditional UPDATE (changes.py): its WHERE is checked again at write time, so two
    # writers cannot both close, expire or delete one signal. PostgreSQL and MariaDB also lock the row
    # when it is read for a change; SQLite has no row locks, and these conditions are what protect it.

    def expire_if_overdue(self, signal_id: uuid.UUID, cutoff: datetime, now: datetime) -> bool:
        statement = (
            update(Signal)
            .where(Signal.id == signal_id, Signal.deleted_at.is_(None), is_overdue(cutoff))
            .values(status=_EXPIRED, updated_at=now, version=Signal.version + 1)
        )
        return self.execute_update(statement) == 1

    def page_of(self, user_id: uuid.UUID, query: SignalListQuery, now: datetime) -> tuple[Sequence[Signal], str | None]:
        statement = _listing(user_id, query, now)
        return self.page(statement, limit=query.limit, cursor=query.cursor, scope=f"signals:{user_id}")

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


def _index_serving(query: SignalListQuery) -> str:
    """The index whose range scan serves this listing: equality columns first, then (created_at, id)."""
    if query.symbol is not None:
        return "ix_signals_user_symbol_created"
    if query.strategy is not None:
        return "ix_signals_user_strategy_created"
    if query.status in (SignalStatus.OPEN, SignalStatus.CLOSED):  # EXPIRED is an OR of two statuses
        return "ix_signals_user_status_created"
    return "ix_signals_user_created"
