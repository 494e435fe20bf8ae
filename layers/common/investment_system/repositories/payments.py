"""Data access for payment-provider events."""

from __future__ import annotations

from sqlalchemy.orm import Session

from investment_system.models.payments import PaymentEvent


class PaymentEventRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, event: PaymentEvent) -> None:
        """Insert the event; IntegrityError when its id was stored before."""
        self.session.add(event)
        self.session.flush()
