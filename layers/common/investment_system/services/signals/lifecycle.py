"""Trading signals: the level rules, the return computation, the OPEN -> CLOSED | EXPIRED state machine,
ownership, soft delete and the audit trail of every change.

A use case (a function without a `session` parameter) opens the one transaction of its request; the
steps it calls take that session, so a change and its audit row commit together or not at all. Creates
run inside the idempotency service's transaction instead. A signal past `expires_at` is reported EXPIRED by every
read even before the expiry job (services/signals/expiry.py) has stored it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy.orm import Session

from investment_system.db import unit_of_work
from investment_system.db.base import utcnow
from investment_system.domain import RETURN_DIGITS, RETURN_SCALE, Direction, SignalStatus
from investment_system.errors import Conflict, ErrorCode, NotFound, ValidationFailed
from investment_system.models.signals import Signal
from investment_system.observability import MetricName, add_metric
from investment_system.repositories.signals.signals import SignalRepository, closing_values
from investment_system.schemas.signals import (
    SignalClose,
    SignalCreate,
    SignalOut,
    SignalUpdate,
)
from investment_system.schemas.stream import StreamEventType
from investment_system.services.signals.reads import (
    ENTITY_TYPE,
    decimal_text,
    effective_status,
    owned_signal,
    return_text,
    round_half_up,
    signal_out,
)
from investment_system.services.stream.events import record_event
from investment_system.services.system.audit import record_change

# The largest |return_pct| the column holds (NUMERIC(18, 4)).
MAX_ABS_RETURN = Decimal(10) ** (RETURN_DIGITS - RETURN_SCALE) - Decimal(1).scaleb(-RETURN_SCALE)

_CREATED_METRIC = {Direction.BUY: MetricName.SIGNALS_CREATED_BUY, Direction.SELL: MetricName.SIGNALS_CREATED_SELL}
_CLOSED_METRIC = {Direction.BUY: MetricName.SIGNALS_CLOSED_BUY, Direction.SELL: MetricName.SIGNALS_CLOSED_SELL}
# The stream event of each audited action.
STREAM_EVENTS = {
    "created": StreamEventType.SIGNAL_CREATED,
    "updated": StreamEventType.SIGNAL_UPDATED,
    "closed": StreamEventType.SIGNAL_CLOSED,
    "expired": StreamEventType.SIGNAL_EXPIRED,
    "deleted": StreamEventType.SIGNAL_DELETED,
}
# Fields whose changes the audit trail records.
_AUDITED = (
    "symbol",
    "direction",
    "confidence",
    "entry_price",
    "target_price",
    "stop_loss",
    "timeframe",
    "strategy",
    "notes",
    "status",
    "exit_price",
    "return_pct",
    "expires_at",
    "closed_at",
    "deleted_at",
)


# --- Domain rules (pure) ---------------------------------------------------------------------------


def level_violations(
    direction: Direction, entry: Decimal, target: Decimal | None, stop: Decimal | None
) -> list[dict[str, str]]:
    """The broken level rules: BUY needs stop_loss < entry_price < target_price, SELL the reverse,
    for the levels given. Empty when the levels are consistent."""
    buy = direction is Direction.BUY
    problems = []
    if target is not None and not (entry < target if buy else target < entry):
        side = "above" if buy else "below"
        problems.append(("target_price", f"a {direction.value} signal's target_price must be {side} entry_price"))
    if stop is not None and not (stop < entry if buy else entry < stop):
        side = "below" if buy else "above"
        problems.append(("stop_loss", f"a {direction.value} signal's stop_loss must be {side} entry_price"))
    return [{"field": field, "message": message, "type": "signal_levels"} for field, message in problems]


def compute_return_pct(direction: Direction, entry: Decimal, exit_price: Decimal) -> Decimal:
    """(exit - entry) / entry * 100 for BUY, (entry - exit) / entry * 100 for SELL, to 4 fractional
    digits, rounded half-up. Computed on exact fractions: no intermediate rounding."""
    change = Fraction(exit_price) - Fraction(entry)
    if direction is Direction.SELL:
        change = -change
    return round_half_up(change * 100 / Fraction(entry), RETURN_SCALE)


def audit_values(signal: Signal) -> dict[str, Any]:
    """The audited fields as JSON-ready values (decimal strings, ISO-8601 timestamps)."""
    values: dict[str, Any] = {}
    for name in _AUDITED:
        value = getattr(signal, name)
        if isinstance(value, Decimal):
            value = return_text(value) if name == "return_pct" else decimal_text(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        values[name] = value
    return values


# --- Operations ------------------------------------------------------------------------------------


def new_signal(user_id: uuid.UUID, data: SignalCreate, now: datetime) -> Signal:
    """The row a signal's creation adds."""
    return Signal(
        user_id=user_id,
        symbol=data.symbol,
        direction=data.direction.value,
        confidence=data.confidence,
        entry_price=data.entry_price,
        target_price=data.target_price,
        stop_loss=data.stop_loss,
        timeframe=data.timeframe.value,
        strategy=data.strategy,
        notes=data.notes,
        status=SignalStatus.OPEN.value,
        expires_at=data.expires_at,
        created_at=now,
        updated_at=now,
    )


def create_signal(session: Session, user_id: uuid.UUID, data: SignalCreate) -> SignalOut:
    """Create an OPEN signal for the user, with its "created" audit row (one transaction: the caller's)."""
    now = utcnow()
    _check_expiry(data.expires_at, now)
    _check_levels(data.direction, data.entry_price, data.target_price, data.stop_loss)
    signal = SignalRepository(session).add(new_signal(user_id, data, now))
    _record(session, signal, "created", user_id, {})
    add_metric(_CREATED_METRIC[data.direction])
    return signal_out(signal, now)


def update_signal(user_id: uuid.UUID, signal_id: str, data: SignalUpdate) -> SignalOut:
    """Change levels, notes or expiry of an OPEN signal; the levels are checked again as a whole."""
    with unit_of_work() as session:
        now = utcnow()
        signal = _open_for_change(session, user_id, signal_id, now)
        changes = {name: value for name, value in data.changes().items() if getattr(signal, name) != value}
        if "expires_at" in changes:
            _check_expiry(changes["expires_at"], now)
        _check_levels(
            Direction(signal.direction),
            signal.entry_price,
            changes.get("target_price", signal.target_price),
            changes.get("stop_loss", signal.stop_loss),
        )
        if changes:  # setting what is already there is no change, and leaves no history
            _change(session, signal, now, "updated", user_id, {**changes, "updated_at": now})
        return signal_out(signal, now)


def close_signal(user_id: uuid.UUID, signal_id: str, data: SignalClose) -> SignalOut:
    """OPEN -> CLOSED at `exit_price`, with its return."""
    with unit_of_work() as session:
        now = utcnow()
        signal = _open_for_change(session, user_id, signal_id, now)
        direction = Direction(signal.direction)
        return_pct = compute_return_pct(direction, signal.entry_price, data.exit_price)
        if abs(return_pct) > MAX_ABS_RETURN:
            raise ValidationFailed(
                ErrorCode.INVALID_PRICE,
                "exit_price gives a return beyond what a signal can record",
                details=[
                    {
                        "field": "exit_price",
                        "message": f"|return_pct| must not exceed {MAX_ABS_RETURN}",
                        "type": "return_range",
                    }
                ],
            )
        _change(session, signal, now, "closed", user_id, closing_values(data.exit_price, return_pct, now))
        add_metric(_CLOSED_METRIC[direction])
        return signal_out(signal, now)


def delete_signal(user_id: uuid.UUID, signal_id: str) -> None:
    """Soft delete, whatever the status: the owner sees 404 from now on; the row and its history stay."""
    with unit_of_work() as session:
        now = utcnow()
        signal = owned_signal(session, user_id, signal_id, for_update=True)
        before = audit_values(signal)
        repository = SignalRepository(session)
        if not repository.soft_delete(signal.id, now):
            raise NotFound(ErrorCode.SIGNAL_NOT_FOUND)  # deleted by a concurrent request since it was read
        signal = repository.reread(signal)
        _record(session, signal, "deleted", user_id, before)


# --- Helpers ---------------------------------------------------------------------------------------


def _open_for_change(session: Session, user_id: uuid.UUID, signal_id: str, now: datetime) -> Signal:
    signal = owned_signal(session, user_id, signal_id, for_update=True)
    status = effective_status(signal, now)
    if status is not SignalStatus.OPEN:
        raise Conflict(ErrorCode.SIGNAL_NOT_OPEN, f"The signal is {status.value}; only OPEN signals change.")
    return signal


def _change(
    session: Session, signal: Signal, now: datetime, action: str, actor_id: uuid.UUID, values: dict[str, Any]
) -> None:
    """Apply `values` to a signal that must still be OPEN when written, and record the change."""
    before = audit_values(signal)
    repository = SignalRepository(session)
    if not repository.update_if_open(signal.id, now, values):
        # Closed, expired or deleted by a concurrent request since it was read.
        raise Conflict(ErrorCode.SIGNAL_NOT_OPEN)
    _record(session, repository.reread(signal), action, actor_id, before)


def _check_levels(direction: Direction, entry: Decimal, target: Decimal | None, stop: Decimal | None) -> None:
    problems = level_violations(direction, entry, target, stop)
    if problems:
        raise ValidationFailed(ErrorCode.INVALID_SIGNAL_LEVELS, details=problems)


def _check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is not None and expires_at <= now:
        raise ValidationFailed(
            ErrorCode.EXPIRY_IN_PAST,
            details=[{"field": "expires_at", "message": "must lie in the future", "type": "expiry_in_past"}],
        )


def _record(session: Session, signal: Signal, action: str, actor_id: uuid.UUID | None, before: dict[str, Any]) -> None:
    """The change's audit row and its stream event, in the change's transaction."""
    record_change(
        session,
        entity_type=ENTITY_TYPE,
        entity_id=signal.id,
        action=action,
        actor_id=actor_id,
        before=before,
        after=audit_values(signal),
    )
    record_event(session, signal.user_id, STREAM_EVENTS[action], signal_out(signal, utcnow()))
