"""Billing tables: plans, subscriptions, checkouts, daily usage counters, payment events, idempotency records."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from investment_system.db.base import UUID_TYPE, Base, TimestampedMixin, UTCDateTime, new_id, one_of, utcnow
from investment_system.domain import SubscriptionStatus


class CheckoutStatus(StrEnum):
    PENDING = "PENDING"  # may be completed by the provider's invoice.paid until expires_at
    COMPLETED = "COMPLETED"
    REPLACED = "REPLACED"  # a newer checkout of the user took its place


class IdempotencyStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


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


class Subscription(TimestampedMixin, Base):
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


class DailyUsage(Base):
    """Signals a user created on one UTC day: the counter row the daily quota is enforced on."""

    __tablename__ = "daily_usage"

    user_id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, ForeignKey("users.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    signals_created: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


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


class IdempotencyRecord(Base):
    """An Idempotency-Key of a user: claimed before the effect, completed in the effect's transaction."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        CheckConstraint(one_of("status", IdempotencyStatus), name="status"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, ForeignKey("users.id"), primary_key=True)
    # SHA-256 of the key: fixed width, and immune to case-insensitive collations.
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    claim_token: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, nullable=False)
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
