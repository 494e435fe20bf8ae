"""Data access for daily usage: the counter rows a plan's daily quota of signals is enforced on.

`UsageRepository.increment_below` carries the quota's guarantee: `... SET n = n + 1 WHERE n < limit`, in
one statement that also makes the day's row (`INSERT ... ON CONFLICT DO UPDATE ... WHERE`; on MySQL, which
cannot tell such an upsert's outcome, the row's INSERT and the conditional UPDATE). A concurrent updater
waits for the row lock and then re-evaluates the condition on the committed value (PostgreSQL re-checks
the updated row; InnoDB updates read the latest version; SQLite has a single writer), so the counter
never passes the limit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Insert, Select, Update, insert, select, update
from sqlalchemy.orm import Session

from investment_system.db.upserts import OnConflict
from investment_system.models.billing import Subscription
from investment_system.models.usage import DailyUsage
from investment_system.repositories.base import SessionBoundRepository, execute_dml, insert_if_absent

_USAGE_KEY = ("user_id", "day")


def _new_usage_day(user_id: uuid.UUID, day: date) -> Insert:
    return insert_if_absent(DailyUsage, {"user_id": user_id, "day": day, "signals_created": 0}, _USAGE_KEY)


def _count_first_or_below(user_id: uuid.UUID, day: date, limit: int) -> Insert:
    """The day's first signal, or one more while fewer than `limit`: counted when its row count is 1."""
    more = {"signals_created": DailyUsage.signals_created + 1}
    return (
        insert(DailyUsage)
        .values(user_id=user_id, day=day, signals_created=1)
        .ext(OnConflict(_USAGE_KEY, more, where=DailyUsage.signals_created < limit))
    )


def _count_below(user_id: uuid.UUID, day: date, limit: int) -> Update:
    return (
        update(DailyUsage)
        .where(DailyUsage.user_id == user_id, DailyUsage.day == day, DailyUsage.signals_created < limit)
        .values(signals_created=DailyUsage.signals_created + 1)
    )


def _signals_created(user_id: uuid.UUID, day: date) -> Select[int]:
    return select(DailyUsage.signals_created).where(DailyUsage.user_id == user_id, DailyUsage.day == day)


def _subscription_and_count(user_id: uuid.UUID, day: date) -> Select[Subscription, int | None]:
    return select(Subscription, _signals_created(user_id, day).scalar_subquery()).where(Subscription.user_id == user_id)


@dataclass(frozen=True)
class DailyCount:
    """One more in the user's count of the day while it is below `limit`: a quota, as the condition of the
    write it counts (`repositories.base.WriteCondition`)."""

    user_id: uuid.UUID
    day: date
    limit: int

    def statement(self) -> Insert:
        return _count_first_or_below(self.user_id, self.day, self.limit)

    def passes(self, session: Session) -> bool:
        return UsageRepository(session).increment_below(self.user_id, self.day, self.limit)


class UsageRepository(SessionBoundRepository):
    def signals_created(self, user_id: uuid.UUID, day: date) -> int:
        return self.session.scalar(_signals_created(user_id, day)) or 0

    def subscription_and_count(self, user_id: uuid.UUID, day: date) -> tuple[Subscription | None, int]:
        """The user's subscription (None: they have none yet) and the day's count, in one query when the
        subscription exists (what GET /v1/billing/usage reads)."""
        row = self.session.execute(_subscription_and_count(user_id, day)).first()
        if row is None:
            return None, self.signals_created(user_id, day)
        return row[0], row[1] or 0

    def increment_below(self, user_id: uuid.UUID, day: date, limit: int) -> bool:
        """Count one more signal for the day unless `limit` is reached; True when counted."""
        if limit < 1:
            return False
        if self.session.get_bind().dialect.name not in ("mysql", "mariadb"):
            return execute_dml(self.session, _count_first_or_below(user_id, day, limit)).rowcount == 1
        execute_dml(self.session, _new_usage_day(user_id, day))
        return execute_dml(self.session, _count_below(user_id, day, limit)).rowcount == 1
