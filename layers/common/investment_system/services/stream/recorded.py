"""A change with its record, in the caller's transaction: the write, its audit row and the user's next
stream event, one statement where the database allows it (repositories/stream/recorded.py).

The record is what `services.system.audit.record_change` and `services.stream.events.record_event` add
after a change; here it is made before the write, from the row as the write leaves it, so that it can go
with the write. Apart from services/stream/events.py, so that a function that only reads the outbox does
not load the audit trail.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from pydantic import BaseModel
from sqlalchemy import Insert, Update
from sqlalchemy.orm import Session

from investment_system.db.base import Base, utcnow
from investment_system.models.audit import AuditEvent
from investment_system.models.stream import StreamEvent
from investment_system.repositories.base import WriteCondition
from investment_system.repositories.stream.recorded import Inserted, RecordedWriteRepository
from investment_system.schemas.stream import StreamEventType
from investment_system.services.stream.events import deliver_after_commit


def write_recorded(
    session: Session,
    write: Insert | Update,
    audit: AuditEvent,
    user_id: uuid.UUID,
    event_type: StreamEventType,
    data: BaseModel,
    *,
    records: Sequence[Base] = (),
) -> bool:
    """Run `write` (an INSERT, or an UPDATE conditional on the row being as read, of one row) and, when it
    wrote its row, add `audit` (`services.system.audit.audit_row`), the new rows `records` (a payment event's)
    and the user's next event; whether it wrote. A user who listens gets a delivery once the transaction has
    committed."""
    event = _event(user_id, event_type, data)
    connections = RecordedWriteRepository(session).write(write, audit, event, records=records)
    return _delivered(session, user_id, connections)


def insert_recorded_within(
    session: Session,
    row: Base,
    condition: WriteCondition,
    audit: AuditEvent,
    event_type: StreamEventType,
    data: BaseModel,
    user_id: uuid.UUID,
    *,
    then: Update | None = None,
) -> Inserted | None:
    """Insert the new `row` with its record as `write_recorded` does, when `condition`'s own write is made (a
    quota's count: `repositories.base.WriteCondition`), then `then` (an UPDATE of one row), in one statement
    on PostgreSQL; None when nothing was written."""
    event = _event(user_id, event_type, data)
    inserted = RecordedWriteRepository(session).insert_within(row, condition, audit, event, then=then)
    if inserted is not None:
        _delivered(session, user_id, inserted.connections)
    return inserted


def _event(user_id: uuid.UUID, event_type: StreamEventType, data: BaseModel) -> StreamEvent:
    return StreamEvent(user_id=user_id, type=event_type.value, data=data.model_dump(mode="json"), at=utcnow())


def _delivered(session: Session, user_id: uuid.UUID, connections: int | None) -> bool:
    """Whether the change was written (`connections` is not None); when the user listens, asks for delivery."""
    if connections is None:
        return False
    if connections:
        deliver_after_commit(session, user_id)
    return True
