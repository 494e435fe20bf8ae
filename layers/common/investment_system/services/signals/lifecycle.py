"""Trading signals: the level rules, the return computation, the OPEN -> CLOSED | EXPIRED state machine,
ownership, soft delete and the audit trail of every change.

A use case (a function without a `session` parameter) reads the signal, then writes the change with its
audit row and stream event, only while the row is as read: one statement on PostgreSQL, one transaction
elsewhere, so a change and its record land together or not at all. A create is a step of
services/signals/quota.py. A signal past `expires_at` is reported EXPIRED by every read even before the
expiry job (services/signals/expiry.py) has stored it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from sqlalchemy import Update
from sqlalchemy.orm import Session

from investment_system.db import read_only, single_statement_write, unit_of_work
from investment_system.db.base import new_id, utcnow
from investment_system.domain import RETURN_DIGITS, RETURN_SCALE, Direction, SignalStatus
from investment_system.errors import Conflict, ErrorCode, ValidationFailed
from investment_system.models.audit import AuditEvent
from investment_system.models.signals import Signal as SignalRow
from investment_system.observability import MetricName, add_metric
from investment_system.repositories.signals.changes import closing_values, conditional_change
from investment_system.schemas.signals import (
    Signal,
    SignalClose,
    SignalCreate,
    SignalUpdate,
)
from investment_system.schemas.stream import StreamEventType
from investment_system.schemas.versions import Precondition
from investment_system.services.signals.reads import (
    ENTITY_TYPE,
    decimal_text,
    effective_status,
    owned_signal,
    return_text,
    round_half_up,
    signal_out,
    signal_version,
)
from investment_system.services.stream.recorded import insert_recorded_within, write_recorded
from investment_system.services.system.audit import audit_row

if TYPE_CHECKING:  # (billing's code is loaded by the function that creates signals, no other)
    from investment_system.services.billing.usage import DailySignalQuota
    from investment_system.services.system.idempotency import KeyClaim

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


def audit_values(signal: SignalRow) -> dict[str, Any]:
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


def new_signal(user_id: uuid.UUID, data: SignalCreate, now: datetime) -> SignalRow:
    """The row a signal's creation adds, every column given (its change record is made from it)."""
    return SignalRow(
        id=new_id(),
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
        version=1,
        created_at=now,
        updated_at=now,
    )


def create_signal(
    session: Session, user_id: uuid.UUID, data: SignalCreate, quota: DailySignalQuota, claim: KeyClaim | None = None
) -> Signal:
    """Create an OPEN signal for the user, with its "created" audit row and stream event, counted against
    the plan's daily `quota` and completing an Idempotency-Key's `claim` by the same statement on PostgreSQL,
    in `session`'s transaction elsewhere (429 QUOTA_EXCEEDED once it is used up)."""
    now = utcnow()
    _check_expiry(data.expires_at, now)
    _check_levels(data.direction, data.entry_price, data.target_price, data.stop_loss)
    signal = new_signal(user_id, data, now)
    audit = _audit_row(signal, "created", user_id, {})
    out = signal_out(signal, now)
    completion = None if claim is None else claim.completion(out)
    inserted = insert_recorded_within(
        session, signal, quota.count, audit, STREAM_EVENTS["created"], out, user_id, then=completion
    )
    if inserted is None:
        raise quota.exhausted()
    if claim is not None:
        claim.confirm(inserted.followed)
    add_metric(_CREATED_METRIC[data.direction])
    return out


def update_signal(
    user_id: uuid.UUID, signal_id: str, data: SignalUpdate, precondition: Precondition | None = None
) -> Signal:
    """Change levels, notes or expiry of an OPEN signal; the levels are checked again as a whole. With a
    `precondition` (If-Match), only the version it names is changed (412 PRECONDITION_FAILED)."""

    def plan(signal: SignalRow, now: datetime) -> Planned | None:
        _require_open(signal, now, precondition)
        changes = {name: value for name, value in data.changes().items() if getattr(signal, name) != value}
        if "expires_at" in changes:
            _check_expiry(changes["expires_at"], now)
        _check_levels(
            Direction(signal.direction),
            signal.entry_price,
            changes.get("target_price", signal.target_price),
            changes.get("stop_loss", signal.stop_loss),
        )
        if not changes:  # setting what is already there is no change, and leaves no history
            return None
        return Planned(signal, "updated", changes, while_open=True)

    signal, now = _changed(user_id, signal_id, precondition, plan)
    return signal_out(signal, now)


def close_signal(
    user_id: uuid.UUID, signal_id: str, data: SignalClose, precondition: Precondition | None = None
) -> Signal:
    """OPEN -> CLOSED at `exit_price`, with its return; with a `precondition`, as `update_signal`."""

    def plan(signal: SignalRow, now: datetime) -> Planned:
        _require_open(signal, now, precondition)
        return_pct = compute_return_pct(Direction(signal.direction), signal.entry_price, data.exit_price)
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
        return Planned(signal, "closed", closing_values(data.exit_price, return_pct, now), while_open=True)

    signal, now = _changed(user_id, signal_id, precondition, plan)
    add_metric(_CLOSED_METRIC[Direction(signal.direction)])
    return signal_out(signal, now)


def delete_signal(user_id: uuid.UUID, signal_id: str, precondition: Precondition | None = None) -> None:
    """Soft delete, whatever the status: the owner sees 404 from now on; the row and its history stay.
    With a `precondition`, only the version it names is deleted (412 PRECONDITION_FAILED)."""

    def plan(signal: SignalRow, now: datetime) -> Planned:
        if precondition is not None:
            precondition.require(signal_version(signal, now))
        return Planned(signal, "deleted", {"deleted_at": now}, while_open=False)

    _changed(user_id, signal_id, precondition, plan)


# --- Helpers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """A change a use case found allowed on the row it read: its action and values (`conditional_change`)."""

    signal: SignalRow
    action: str
    values: dict[str, Any]
    while_open: bool


def _changed(
    user_id: uuid.UUID,
    signal_id: str,
    precondition: Precondition | None,
    plan: Callable[[SignalRow, datetime], Planned | None],
) -> tuple[SignalRow, datetime]:
    """Read the caller's signal, `plan` its change (which raises what forbids it) and write the change with
    its record, only while the row is as read; the row it leaves, or the row read when there is nothing to
    change. Optimistic first (on PostgreSQL a read and a write of one statement each, no transaction), and
    when a concurrent change came in between, once more with the row locked from read to write, unless the
    client named the version it changes (If-Match): that version is gone, 412."""
    with read_only() as session:
        signal = owned_signal(session, user_id, signal_id)
    now = utcnow()
    planned = plan(signal, now)
    if planned is None:
        return signal, now
    with single_statement_write() as session:
        changed = _write_planned(session, planned, now, user_id)
    if changed is not None:
        return changed, now
    if precondition is not None:
        raise Conflict(ErrorCode.PRECONDITION_FAILED)
    with unit_of_work() as session:
        signal = owned_signal(session, user_id, signal_id, for_update=True)
        now = utcnow()
        planned = plan(signal, now)
        if planned is None:
            return signal, now
        changed = _write_planned(session, planned, now, user_id)
    if changed is None:  # locked, yet not written: it expired between the check and the write
        raise Conflict(ErrorCode.SIGNAL_NOT_OPEN)
    return changed, now


def _write_planned(session: Session, planned: Planned, now: datetime, actor_id: uuid.UUID) -> SignalRow | None:
    """Write `planned` with its record while the row is as read; the row it leaves, or None when it was not."""
    write, changed = conditional_change(planned.signal, now, planned.values, while_open=planned.while_open)
    before = audit_values(planned.signal)
    return changed if _write_recorded(session, write, changed, planned.action, actor_id, before) else None


def _require_open(signal: SignalRow, now: datetime, precondition: Precondition | None) -> None:
    if precondition is not None:  # before the state's checks: a stale copy is the client's first problem
        precondition.require(signal_version(signal, now))
    status = effective_status(signal, now)
    if status is not SignalStatus.OPEN:
        raise Conflict(ErrorCode.SIGNAL_NOT_OPEN, f"The signal is {status.value}; only OPEN signals change.")


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


def _write_recorded(
    session: Session,
    write: Update,
    signal: SignalRow,
    action: str,
    actor_id: uuid.UUID,
    before: dict[str, Any],
) -> bool:
    """Run `write`, which leaves the row `signal`, with the change's audit row and stream event, in the
    change's transaction; whether it wrote."""
    audit = _audit_row(signal, action, actor_id, before)
    return write_recorded(session, write, audit, signal.user_id, STREAM_EVENTS[action], signal_out(signal, utcnow()))


def _audit_row(signal: SignalRow, action: str, actor_id: uuid.UUID, before: dict[str, Any]) -> AuditEvent:
    return audit_row(
        entity_type=ENTITY_TYPE,
        entity_id=signal.id,
        action=action,
        actor_id=actor_id,
        before=before,
        after=audit_values(signal),
    )
