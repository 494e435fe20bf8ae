"""Data access for payment-provider events."""

from __future__ import annotations

from investment_system.models.payments import PaymentEvent
from investment_system.repositories.base import RowRepository


class PaymentEventRepository(RowRepository[PaymentEvent]):
    """`add` inserts the event: IntegrityError when its id was stored before."""
