"""The audit trail: one row per change, written in the same transaction as the change itself."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from investment_system.models.audit import AuditEvent
from investment_system.observability import correlation_id
from investment_system.repositories.system.audit import AuditRepository, audit_event


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
    event = audit_event(entity_type, entity_id, action, actor_id, changes, correlation_id() or None)
    return AuditRepository(session).add(event)


def history(session: Session, *, entity_type: str, entity_id: uuid.UUID) -> Sequence[AuditEvent]:
    """Every audit row of one entity, oldest first."""
    return AuditRepository(session).history(entity_type, entity_id)
