"""Checkouts: a purchase of a plan, until the payment provider reports it paid or it expires."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from investment_system.db.base import UUID_TYPE, Base, UTCDateTime, new_id, one_of, utcnow


class CheckoutStatus(StrEnum):
    PENDING = "PENDING"  # may be completed by the provider's invoice.paid until expires_at
    COMPLETED = "COMPLETED"
    REPLACED = "REPLACED"  # a newer checkout of the user took its place


class Checkout(Base):
    """A purchase of a plan the user started: it changes the subscription only when the payment
    provider reports it paid (invoice.paid naming its id) before it expires."""

    __tablename__ = "checkouts"
    __table_args__ = (
        CheckConstraint(one_of("status", CheckoutStatus), name="status"),
        Index("ix_checkouts_user_id", "user_id"),
        Index("ix_checkouts_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, ForeignKey("users.id"), nullable=False)
    plan_code: Mapped[str] = mapped_column(String(32), ForeignKey("plans.code"), nullable=False)
    amount_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
