"""Data access for the audit trail: an entity's rows, and a change's row added to the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select

from investment_system.db.engine import precompile, precompile_inserts
from investment_system.models.audit import AuditEvent
from investment_system.repositories.base import SessionBoundRepository


def audit_event(
    entity_type: str,
    entity_id: uuid.UUID,
    action: str,
    actor_id: uuid.UUID | None,
    changes: dict[str, Any],
    correlation_id: str | None,
) -> AuditEvent:
    return AuditEvent(
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        actor_id=actor_id,
        changes=changes,
        correlation_id=correlation_id,
    )


def _history(entity_type: str, entity_id: uuid.UUID) -> Select[AuditEvent]:
    return (
        select(AuditEvent)
        .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
        .order_by(AuditEvent.id)
    )


# Compiled before a SnapStart snapshot: a history's read, and the INSERT of every change's audit row.
precompile(lambda _: [_history("", uuid.UUID(int=0))])
precompile_inserts(lambda: [audit_event("", uuid.UUID(int=0), "", None, {}, None)])


class AuditRepository(SessionBoundRepository):
    def add(self, event: AuditEvent) -> AuditEvent:
        """Add the row to the session: it is inserted with the change, at the transaction's next flush."""
        self.session.add(event)
        return event

    def history(self, entity_type: str, entity_id: uuid.UUID) -> Sequence[AuditEvent]:
        """Every audit row of one entity, oldest first."""
        return self.session.scalars(_history(entity_type, entity_id)).all()
