"""Data access for daily usage: the counter rows a plan's daily quota of signals is enforced on.

`UsageRepository.increment_below` carries the quota's guarantee: `UPDATE ... SET n = n + 1 WHERE n <
limit`. A concurrent updater waits for the row lock and then re-evaluates the condition on the committed
value (PostgreSQL re-checks the updated row; InnoDB updates read the latest version; SQLite has a single
writer), so the counter never passes the limit.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Dialect, Executable, Insert, Select, Update, select, update

from investment_system.db.base import utcnow
from investment_system.db.engine import precompile
from investment_system.models.usage import DailyUsage
from investment_system.repositories.base import SessionBoundRepository, execute_dml, insert_if_absent

_USAGE_KEY = ("user_id", "day")


def _new_usage_day(dialect: str, user_id: uuid.UUID, day: date) -> Insert:
    return insert_if_absent(dialect, DailyUsage, {"user_id": user_id, "day": day, "signals_created": 0}, _USAGE_KEY)


def _count_below(user_id: uuid.UUID, day: date, limit: int) -> Update:
    return (
        update(DailyUsage)
        .where(DailyUsage.user_id == user_id, DailyUsage.day == day, DailyUsage.signals_created < limit)
        .values(signals_created=DailyUsage.signals_created + 1)
    )


def _signals_created(user_id: uuid.UUID, day: date) -> Select[int]:
    return select(DailyUsage.signals_created).where(DailyUsage.user_id == user_id, DailyUsage.day == day)


def _primed(dialect: Dialect) -> list[Executable]:
    """A signal's count against the daily quota, and the usage's read of it (compiled before a SnapStart
    snapshot)."""
    nobody, today = uuid.UUID(int=0), utcnow().date()
    return [
        _new_usage_day(dialect.name, nobody, today),
        _count_below(nobody, today, 0),
        _signals_created(nobody, today),
    ]


precompile(_primed)


class UsageRepository(SessionBoundRepository):
    def signals_created(self, user_id: uuid.UUID, day: date) -> int:
        return self.session.scalar(_signals_created(user_id, day)) or 0

    def increment_below(self, user_id: uuid.UUID, day: date, limit: int) -> bool:
        """Count one more signal for the day unless `limit` is reached; True when counted."""
        execute_dml(self.session, _new_usage_day(self.session.get_bind().dialect.name, user_id, day))
        return execute_dml(self.session, _count_below(user_id, day, limit)).rowcount == 1
