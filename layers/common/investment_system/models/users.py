"""The users table."""

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from investment_system.db.base import UUID_TYPE, Base, TimestampedMixin, UTCDateTime, VersionedMixin, new_id


class User(VersionedMixin, TimestampedMixin, Base):
    __tablename__ = "users"
    # With emails stored lower-cased (enforced here, at the database), the unique constraint on
    # email is a case-insensitive one on every backend.
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lower_case"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    full_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="user")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    failed_login_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Every token carries the epoch it was issued in; raising it (password change, deactivation, role
    # change) ends every token issued before, read with the user row each request loads anyway.
    token_epoch: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
