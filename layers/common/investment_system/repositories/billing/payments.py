"""Data access for payment-provider events."""

from __future__ import annotations

from investment_system.models.payments import PaymentEvent
from investment_system.repositories.base import RowRepository


class PaymentEventRepository(RowRepository[PaymentEvent]):
    """`add` inserts the event: IntegrityError when its id was stored before."""

    def outcome_of(self, event_id: str) -> str | None:
        """The stored outcome of the event `event_id` (applied, ignored, mismatched); None if it is not stored."""
        row = self.session.get(PaymentEvent, event_id)
        return None if row is None else row.outcome
