"""Sessions: one per login. Its id is the tokens' `sid` claim and the family of its refresh tokens."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from investment_system.db.base import UUID_TYPE, Base, TimestampedMixin, UTCDateTime


class UserSession(TimestampedMixin, Base):
    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    # The login plus REFRESH_FAMILY_MAX_AGE_SECONDS: no token of the session outlives it.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # Logout, a reused refresh token, or an event that ends all the user's sessions.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
