"""GET /v1/signals/{id}/history: a signal's audit trail, oldest first. Reads only: the changes, the stream
and the quota are other modules'."""

from __future__ import annotations

import uuid

from investment_system.db import unit_of_work
from investment_system.schemas.signals import HistoryEntry, SignalHistory
from investment_system.services.signals.reads import ENTITY_TYPE, owned_signal
from investment_system.services.system.audit import history


def signal_history(user_id: uuid.UUID, signal_id: str) -> SignalHistory:
    with unit_of_work() as session:
        signal = owned_signal(session, user_id, signal_id)
        events = history(session, entity_type=ENTITY_TYPE, entity_id=signal.id)
        return SignalHistory(
            items=[
                HistoryEntry(
                    action=event.action,
                    changes=event.changes,
                    actor_id=event.actor_id,
                    correlation_id=event.correlation_id,
                    at=event.at,
                )
                for event in events
            ]
        )
