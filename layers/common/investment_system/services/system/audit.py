"""The audit trail: one row per change, written in the same transaction as the change itself."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict, Unpack

from sqlalchemy import Insert, Update
from sqlalchemy.orm import Session

from investment_system.models.audit import AuditEvent
from investment_system.observability import correlation_id
from investment_system.repositories.system.audit import AuditRepository, audit_event


class Change(TypedDict):
    """What an audit row says of a change; `before`/`after` hold JSON-ready values, of which the row keeps
    the fields that differ."""

    entity_type: str
    entity_id: uuid.UUID
    action: str
    actor_id: uuid.UUID | None
    before: NotRequired[Mapping[str, Any] | None]
    after: NotRequired[Mapping[str, Any] | None]


def record_change(session: Session, **change: Unpack[Change]) -> AuditEvent:
    """Add an audit row for a change (`audit_row`) to the session."""
    return AuditRepository(session).add(audit_row(**change))


def write_audited(session: Session, write: Insert | Update, **change: Unpack[Change]) -> bool:
    """Run `write` (an INSERT, or an UPDATE of one row conditional on it being as read) with the change's audit row
    (`audit_row`): one statement on PostgreSQL (`AuditRepository.write_audited`); whether it wrote."""
    return AuditRepository(session).write_audited(write, audit_row(**change))


def audit_row(**change: Unpack[Change]) -> AuditEvent:
    """A change's audit row, not added to any session (a write that records its change inserts it:
    services/stream/recorded.py)."""
    before, after = change.get("before") or {}, change.get("after") or {}
    changes = {
        key: {"from": before.get(key), "to": after.get(key)}
        for key in sorted({*before, *after})
        if before.get(key) != after.get(key)
    }
    return audit_event(
        change["entity_type"],
        change["entity_id"],
        change["action"],
        change["actor_id"],
        changes,
        correlation_id() or None,
    )


def history(session: Session, *, entity_type: str, entity_id: uuid.UUID) -> Sequence[AuditEvent]:
    """Every audit row of one entity, oldest first."""
    return AuditRepository(session).history(entity_type, entity_id)
