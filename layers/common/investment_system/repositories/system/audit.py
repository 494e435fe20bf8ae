"""Data access for the audit trail: an entity's rows, and a change's row added to the session or inserted
by the statement making the change (`audit_insert`, `AuditRepository.write_audited`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import FromClause, Insert, Select, Update, select

from investment_system.db.base import utcnow
from investment_system.db.engine import compiles_only, dialect_name
from investment_system.models.audit import AuditEvent
from investment_system.repositories.base import SessionBoundRepository, execute_dml, insert_per_row_of

# Every column of a row but its generated id.
_VALUES = ("entity_type", "entity_id", "action", "actor_id", "changes", "correlation_id", "at")


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
        at=utcnow(),
    )


def audit_insert(event: AuditEvent, source: FromClause) -> Insert:
    """`event`'s row, inserted once per row of `source` (`repositories.base.insert_per_row_of`)."""
    return insert_per_row_of(AuditEvent, {name: getattr(event, name) for name in _VALUES}, source)


def _history(entity_type: str, entity_id: uuid.UUID) -> Select[AuditEvent]:
    return (
        select(AuditEvent)
        .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
        .order_by(AuditEvent.id)
    )


class AuditRepository(SessionBoundRepository):
    def add(self, event: AuditEvent) -> AuditEvent:
        """Add the row to the session: it is inserted with the change, at the transaction's next flush."""
        self.session.add(event)
        return event

    def history(self, entity_type: str, entity_id: uuid.UUID) -> Sequence[AuditEvent]:
        """Every audit row of one entity, oldest first."""
        return self.session.scalars(_history(entity_type, entity_id)).all()

    def write_audited(self, write: Insert | Update, event: AuditEvent) -> bool:
        """Run `write` (an INSERT, or an UPDATE of one row conditional on it being as read) and, when it wrote
        its row, add `event`; whether it wrote. On PostgreSQL one statement, a data-modifying WITH (one round trip, and
        atomic without a transaction: db.engine.single_statement_write); elsewhere, and in a replay for
        PostgreSQL on its scratch SQLite, the write, then the row."""
        if dialect_name(self.session) == "postgresql":
            written = write.returning(*write.table.primary_key).cte("written")
            statement = audit_insert(event, written).returning(AuditEvent.id)
            if not compiles_only(self.session, statement):
                return execute_dml(self.session, statement).first() is not None
        if execute_dml(self.session, write).rowcount != 1:
            return False
        self.add(event)
        return True
