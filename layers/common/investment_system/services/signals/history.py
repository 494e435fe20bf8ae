"""GET /v1/signals/{id}/history: a signal's audit trail, oldest first. Reads only: the changes, the stream
and the quota are other modules'."""

from __future__ import annotations

import uuid

from investment_system.db import read_only
from investment_system.errors import ErrorCode, NotFound
from investment_system.repositories.signals.history import SignalHistoryRepository
from investment_system.schemas.signals import HistoryEntry, SignalHistory
from investment_system.services.signals.reads import ENTITY_TYPE, signal_key


def signal_history(user_id: uuid.UUID, signal_id: str) -> SignalHistory:
    """The audit trail of the user's signal, in the query that finds the signal; 404 when there is none."""
    with read_only() as session:
        events = SignalHistoryRepository(session).owned_history(user_id, signal_key(signal_id), ENTITY_TYPE)
        if events is None:
            raise NotFound(ErrorCode.SIGNAL_NOT_FOUND)
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
