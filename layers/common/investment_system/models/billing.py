"""The plan in force: the plan catalogue and the users' subscriptions. (Checkouts, daily usage, payment
events and idempotency records have modules of their own: reading a user's plan loads none of them.)"""

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from investment_system.db.base import UUID_TYPE, Base, TimestampedMixin, UTCDateTime, VersionedMixin, new_id, one_of
from investment_system.domain import SubscriptionStatus


class Plan(Base):
    """A plan of the catalogue; the rows are seeded by migration 0004."""

    __tablename__ = "plans"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    price_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    interval: Mapped[str] = mapped_column(String(16), nullable=False)
    signals_per_day: Mapped[int] = mapped_column(Integer, nullable=False)
    requests_per_minute: Mapped[int] = mapped_column(Integer, nullable=False)
    features: Mapped[list[str]] = mapped_column(JSON, nullable=False)


class Subscription(VersionedMixin, TimestampedMixin, Base):
    """A user's one subscription."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint(one_of("status", SubscriptionStatus), name="status"),
        # What the scheduled job looks for: periods ending (with a change due then), and dunning.
        Index("ix_subscriptions_current_period_end", "current_period_end"),
        Index("ix_subscriptions_past_due_since", "past_due_since"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, ForeignKey("users.id"), nullable=False, unique=True)
    plan_code: Mapped[str] = mapped_column(String(32), ForeignKey("plans.code"), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    current_period_start: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    current_period_end: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # A cheaper plan the user chose: it replaces `plan_code` at current_period_end.
    scheduled_plan_code: Mapped[str | None] = mapped_column(String(32), ForeignKey("plans.code"))
    # When the subscription became PAST_DUE: BILLING_GRACE_DAYS later it falls back to free.
    past_due_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
