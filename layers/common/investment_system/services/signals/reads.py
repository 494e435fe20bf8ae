"""Reading signals: what a reader sees of one (its effective status, prices as decimal strings), one
of the caller's signals, and pages of them.

The reading functions import this module alone, not the changes of services/signals/lifecycle.py (their audit
trail, stream events and quota): a function maps only the tables it reads.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from sqlalchemy.orm import Session

from investment_system.db import read_only
from investment_system.db.base import utcnow
from investment_system.domain import RETURN_SCALE, Direction, SignalStatus
from investment_system.errors import ErrorCode, NotFound, ValidationFailed
from investment_system.models.signals import Signal as SignalRow
from investment_system.repositories.signals.signals import SignalRepository
from investment_system.schemas.signals import Signal, SignalListQuery, SignalPage
from investment_system.schemas.versions import Versioned

RETURN_QUANTUM = Decimal(1).scaleb(-RETURN_SCALE)

ENTITY_TYPE = "signal"  # a signal's rows in the audit trail


def round_half_up(value: Fraction, places: int) -> Decimal:
    """`value` rounded half-up (ties away from zero) to `places` fractional digits, exactly."""
    scaled = value * 10**places
    magnitude = int(abs(scaled) + Fraction(1, 2))  # floor(|x| + 1/2)
    return Decimal(magnitude if scaled >= 0 else -magnitude).scaleb(-places)


def effective_status(signal: SignalRow, now: datetime) -> SignalStatus:
    """The status a reader sees: an OPEN signal past its expiry is EXPIRED, stored or not."""
    if signal.status == SignalStatus.OPEN and signal.expires_at is not None and signal.expires_at <= now:
        return SignalStatus.EXPIRED
    return SignalStatus(signal.status)


def decimal_text(value: Decimal | None) -> str | None:
    """A price as the shortest decimal string that keeps its value: 187.25000000 -> "187.25"."""
    return None if value is None else f"{value.normalize():f}"


def return_text(value: Decimal | None) -> str | None:
    """A percentage with exactly 4 fractional digits: "3.2500"."""
    return None if value is None else f"{value.quantize(RETURN_QUANTUM, rounding=ROUND_HALF_UP):f}"


def signal_out(signal: SignalRow, now: datetime) -> Signal:
    return Signal(
        id=signal.id,
        user_id=signal.user_id,
        symbol=signal.symbol,
        direction=Direction(signal.direction),
        confidence=float(signal.confidence),
        entry_price=f"{signal.entry_price.normalize():f}",
        target_price=decimal_text(signal.target_price),
        stop_loss=decimal_text(signal.stop_loss),
        timeframe=signal.timeframe,
        strategy=signal.strategy,
        notes=signal.notes,
        status=effective_status(signal, now),
        exit_price=decimal_text(signal.exit_price),
        return_pct=return_text(signal.return_pct),
        expires_at=signal.expires_at,
        closed_at=signal.closed_at,
        created_at=signal.created_at,
        updated_at=signal.updated_at,
    )


def list_signals(user_id: uuid.UUID, query: SignalListQuery) -> SignalPage:
    check_date_range(query.created_from, query.created_to)
    with read_only() as session:
        now = utcnow()
        rows, next_cursor = SignalRepository(session).page_of(user_id, query, now)
        return SignalPage(items=[signal_out(row, now) for row in rows], next_cursor=next_cursor)


def signal_version(signal: SignalRow, now: datetime) -> str:
    """What a signal's ETag names: its row's version, and whether it is overdue, since a signal past
    its expiry reads EXPIRED before the expiry job has changed its row."""
    overdue = signal.status == SignalStatus.OPEN and effective_status(signal, now) is SignalStatus.EXPIRED
    return f"{signal.version}{'-expired' if overdue else ''}"


def get_signal(user_id: uuid.UUID, signal_id: str) -> Signal:
    return versioned_signal(user_id, signal_id).body


def versioned_signal(user_id: uuid.UUID, signal_id: str) -> Versioned[Signal]:
    """One of the user's signals and its version (its ETag's)."""
    with read_only() as session:
        now = utcnow()
        signal = owned_signal(session, user_id, signal_id)
        return Versioned(signal_out(signal, now), signal_version(signal, now))


def check_date_range(created_from: datetime | None, created_to: datetime | None) -> None:
    if created_from is not None and created_to is not None and created_from > created_to:
        raise ValidationFailed(
            ErrorCode.INVALID_DATE_RANGE,
            "created_from must not be after created_to",
            details=[{"field": "created_from", "message": "after created_to", "type": "date_range"}],
        )


def signal_key(signal_id: str) -> uuid.UUID:
    """The signal id of a path segment; 404 SIGNAL_NOT_FOUND when it is none."""
    # A path segment that is no UUID names no signal: the same 404 as any missing one.
    try:
        return uuid.UUID(signal_id)
    except ValueError:
        raise NotFound(ErrorCode.SIGNAL_NOT_FOUND) from None


def owned_signal(session: Session, user_id: uuid.UUID, signal_id: str, *, for_update: bool = False) -> SignalRow:
    signal = SignalRepository(session).owned(user_id, signal_key(signal_id), for_update=for_update)
    if signal is None:
        raise NotFound(ErrorCode.SIGNAL_NOT_FOUND)
    return signal
