"""The audit trail: one row per change, written in the same transaction as the change itself."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from investment_system.db.engine import precompile, precompile_inserts
from investment_system.models.audit import AuditEvent
from investment_system.observability import correlation_id


def record_change(
    session: Session,
    *,
    entity_type: str,
    entity_id: uuid.UUID,
    action: str,
    actor_id: uuid.UUID | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit row for a change; `before`/`after` hold only JSON-ready values of changed fields."""
    changes = {
        key: {"from": (before or {}).get(key), "to": (after or {}).get(key)}
        for key in sorted({*(before or {}), *(after or {})})
        if (before or {}).get(key) != (after or {}).get(key)
    }
    event = _audit_event(entity_type, entity_id, action, actor_id, changes)
    session.add(event)
    return event


def _audit_event(
    entity_type: str, entity_id: uuid.UUID, action: str, actor_id: uuid.UUID | None, changes: dict[str, Any]
) -> AuditEvent:
    return AuditEvent(
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        actor_id=actor_id,
        changes=changes,
        correlation_id=correlation_id() or None,
    )


def history(session: Session, *, entity_type: str, entity_id: uuid.UUID) -> Sequence[AuditEvent]:
    """Every audit row of one entity, oldest first."""
    return session.scalars(_history(entity_type, entity_id)).all()


def _history(entity_type: str, entity_id: uuid.UUID) -> Select[AuditEvent]:
    return (
        select(AuditEvent)
        .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
        .order_by(AuditEvent.id)
    )


# Compiled before a SnapStart snapshot: a history's read, and the INSERT of every change's audit row.
precompile(lambda _: [_history("", uuid.UUID(int=0))])
precompile_inserts(lambda: [_audit_event("", uuid.UUID(int=0), "", None, {})])
