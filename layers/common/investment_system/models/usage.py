"""Daily usage counters: the rows a plan's daily quota of signals is enforced on."""

import uuid
from datetime import date

from sqlalchemy import Date, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from investment_system.db.base import UUID_TYPE, Base


class DailyUsage(Base):
    """Signals a user created on one UTC day: the counter row the daily quota is enforced on."""

    __tablename__ = "daily_usage"

    user_id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, ForeignKey("users.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    signals_created: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
