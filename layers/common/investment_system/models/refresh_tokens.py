"""Refresh tokens: stored hashed, grouped in families (one family per login: its session)."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from investment_system.db.base import UUID_TYPE, Base, TimestampedMixin, UTCDateTime


class RefreshToken(TimestampedMixin, Base):
    __tablename__ = "refresh_tokens"
    __table_args__ = (
        Index("ix_refresh_tokens_family_id", "family_id"),
        Index("ix_refresh_tokens_user_id", "user_id"),
    )

    # The token's `jti` claim.
    id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, primary_key=True)
    # The session (login) the token belongs to: every token rotated from one login shares it, and
    # reuse of a revoked one ends the session.
    family_id: Mapped[uuid.UUID] = mapped_column(
        UUID_TYPE, ForeignKey("user_sessions.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    # SHA-256 of the token: a database leak yields no usable token.
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replaced_by: Mapped[uuid.UUID | None] = mapped_column(UUID_TYPE)
