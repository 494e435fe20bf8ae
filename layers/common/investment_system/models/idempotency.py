"""Idempotency records: a user's Idempotency-Key, its claim and the response it keeps."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from investment_system.db.base import UUID_TYPE, Base, UTCDateTime, one_of, utcnow


class IdempotencyStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


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
