"""A signal's audit trail, its ownership checked in the same query (GET /v1/signals/{id}/history).

Apart from repositories/signals/signals.py so that only the history function loads the audit table.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, select

from investment_system.models.audit import AuditEvent
from investment_system.models.signals import Signal
from investment_system.repositories.base import SessionBoundRepository

# The signal (none: missing, deleted or another user's) and its audit rows, oldest first; a signal
# without rows yet comes back once, with no event. Built once, its values bound when executed.
_OWNED_HISTORY = (
    select(Signal.id, AuditEvent)
    .outerjoin(AuditEvent, (AuditEvent.entity_type == bindparam("entity_type")) & (AuditEvent.entity_id == Signal.id))
    .where(Signal.id == bindparam("signal_id"), Signal.user_id == bindparam("user_id"), Signal.deleted_at.is_(None))
    .order_by(AuditEvent.id)
)


class SignalHistoryRepository(SessionBoundRepository):
    def owned_history(self, user_id: uuid.UUID, signal_id: uuid.UUID, entity_type: str) -> Sequence[AuditEvent] | None:
        """The audit rows of the user's signal, oldest first; None when the user has no such signal."""
        parameters = {"user_id": user_id, "signal_id": signal_id, "entity_type": entity_type}
        rows = self.session.execute(_OWNED_HISTORY, parameters).all()
        if not rows:
            return None
        return [event for _, event in rows if event is not None]
