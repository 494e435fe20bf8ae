"""Payment-provider events, each stored once."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from investment_system.db.base import UUID_TYPE, Base, UTCDateTime, utcnow


class PaymentEvent(Base):
    """A payment-provider event, stored once: its id is the primary key, so a redelivery is a duplicate."""

    __tablename__ = "payment_events"
    __table_args__ = (Index("ix_payment_events_received_at", "received_at"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    # Not a foreign key: an event about an unknown user is kept (as ignored) for the record.
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID_TYPE)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
