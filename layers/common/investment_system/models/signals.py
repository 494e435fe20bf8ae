"""The signals table: a user's trading signals, soft-deleted so the audit trail keeps them."""

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from investment_system.db.base import UUID_TYPE, Base, TimestampedMixin, UTCDateTime, VersionedMixin, new_id, one_of
from investment_system.db.decimals import ExactDecimal
from investment_system.domain import (
    CONFIDENCE_DIGITS,
    CONFIDENCE_SCALE,
    PRICE_DIGITS,
    PRICE_SCALE,
    RETURN_DIGITS,
    RETURN_SCALE,
    STRATEGY_MAX,
    SYMBOL_MAX,
    Direction,
    SignalStatus,
    Timeframe,
)


class Signal(VersionedMixin, TimestampedMixin, Base):
    __tablename__ = "signals"
    __table_args__ = (
        CheckConstraint(one_of("direction", Direction), name="direction"),
        CheckConstraint(one_of("status", SignalStatus), name="status"),
        CheckConstraint(one_of("timeframe", Timeframe), name="timeframe"),
        # Every listing is one user's, newest first: each filter has an index ending in (created_at, id)
        # so a page is an index range scan, whatever the table's size. "Listing and its indexes" in
        # docs/signals.md explains each.
        Index("ix_signals_user_created", "user_id", "created_at", "id"),
        Index("ix_signals_user_symbol_created", "user_id", "symbol", "created_at", "id"),
        Index("ix_signals_user_status_created", "user_id", "status", "created_at", "id"),
        Index("ix_signals_user_strategy_created", "user_id", "strategy", "created_at", "id"),
        # The expiry job's scan: OPEN rows by deadline.
        Index("ix_signals_status_expires", "status", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, ForeignKey("users.id"), nullable=False)
    symbol: Mapped[str] = mapped_column(String(SYMBOL_MAX), nullable=False)
    direction: Mapped[str] = mapped_column(String(4), nullable=False)
    confidence: Mapped[Decimal] = mapped_column(ExactDecimal(CONFIDENCE_DIGITS, CONFIDENCE_SCALE), nullable=False)
    entry_price: Mapped[Decimal] = mapped_column(ExactDecimal(PRICE_DIGITS, PRICE_SCALE), nullable=False)
    target_price: Mapped[Decimal | None] = mapped_column(ExactDecimal(PRICE_DIGITS, PRICE_SCALE))
    stop_loss: Mapped[Decimal | None] = mapped_column(ExactDecimal(PRICE_DIGITS, PRICE_SCALE))
    timeframe: Mapped[str] = mapped_column(String(3), nullable=False)
    strategy: Mapped[str | None] = mapped_column(String(STRATEGY_MAX))
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), nullable=False, default=SignalStatus.OPEN.value)
    exit_price: Mapped[Decimal | None] = mapped_column(ExactDecimal(PRICE_DIGITS, PRICE_SCALE))
    return_pct: Mapped[Decimal | None] = mapped_column(ExactDecimal(RETURN_DIGITS, RETURN_SCALE))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Soft delete: the owner no longer sees the row; the audit trail still points at it.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
