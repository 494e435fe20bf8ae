"""The writes that change a signal, each with the row it leaves: a change's audit row and stream event are
made from that row before the write, so that they go in the write's statement (repositories/stream/recorded.py)
instead of reading the row back after it.

A change is an UPDATE of the row its use case read, locked, and found as it may change; it writes only
while the row is still at the version read, so the row it leaves is the one read with the change's values.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Update

from investment_system.domain import SignalStatus
from investment_system.models.signals import Signal
from investment_system.repositories.base import versioned_change
from investment_system.repositories.signals.signals import has_effective_status


def closing_values(exit_price: Decimal, return_pct: Decimal, now: datetime) -> dict[str, Any]:
    """What closing a signal changes (`conditional_change`)."""
    return {"status": SignalStatus.CLOSED.value, "exit_price": exit_price, "return_pct": return_pct, "closed_at": now}


def conditional_change(
    signal: Signal, now: datetime, values: Mapping[str, Any], *, while_open: bool
) -> tuple[Update, Signal]:
    """The UPDATE writing `values` (and `updated_at` now) to `signal`'s row while it is at the version read,
    not deleted and, `while_open`, OPEN at `now`; and the row it leaves when it writes: a new object, outside
    the session, with those values and the next version."""
    conditions: list[ColumnElement[bool]] = [Signal.deleted_at.is_(None)]
    if while_open:
        conditions.append(has_effective_status(SignalStatus.OPEN, now))
    return versioned_change(signal, now, values, *conditions)
