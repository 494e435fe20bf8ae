"""Daily usage: the signal quota of the user's plan, counted per UTC day.

The count lives in one counter row per user and day, incremented by a conditional write that is the
condition of the signal's own (repositories/billing/usage.py explains why that is atomic): one statement
on PostgreSQL, one transaction elsewhere. A signal not written is not counted, and parallel creates can
never pass the limit.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy.orm import Session

from investment_system.db import read_only
from investment_system.db.base import utcnow
from investment_system.errors import ErrorCode, RateLimited
from investment_system.observability import MetricName, add_metric, logger
from investment_system.repositories.billing.usage import DailyCount, UsageRepository
from investment_system.schemas.billing import Usage
from investment_system.schemas.plans import Plan
from investment_system.services.billing.plan_terms import plan_in_force, plan_of_user
from investment_system.services.billing.plans import plan_catalogue


def utc_day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """Start of `now`'s UTC day and start of the next."""
    start = datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
    return start, start + timedelta(days=1)


@dataclass(frozen=True)
class DailySignalQuota:
    """A user's quota of signals today: the count a new signal makes (the condition of its write), and the
    answer once the quota is used up."""

    plan: Plan
    count: DailyCount
    now: datetime

    def exhausted(self) -> RateLimited:
        """429 QUOTA_EXCEEDED, Retry-After the next UTC midnight."""
        add_metric(MetricName.QUOTA_EXCEEDED)
        logger.info("Daily signal quota exhausted", extra={"plan": self.plan.code, "limit": self.count.limit})
        _, next_day = utc_day_bounds(self.now)
        return RateLimited(ErrorCode.QUOTA_EXCEEDED, math.ceil((next_day - self.now).total_seconds()))


def daily_signal_quota(session: Session, user_id: uuid.UUID, now: datetime) -> DailySignalQuota:
    """The user's quota of signals today, from the plan in force (a read); 429 QUOTA_EXCEEDED at once when
    the plan allows none."""
    plan = plan_of_user(session, user_id, now)
    quota = DailySignalQuota(plan, DailyCount(user_id, now.date(), plan.quotas.signals_per_day), now)
    if quota.count.limit < 1:
        raise quota.exhausted()
    return quota


def usage_today(user_id: uuid.UUID) -> Usage:
    with read_only() as session:
        now = utcnow()
        subscription, signals_created = UsageRepository(session).subscription_and_count(user_id, now.date())
        plan = plan_catalogue(session)[plan_in_force(subscription, now)]
        start, end = utc_day_bounds(now)
        return Usage(
            period_start=start,
            period_end=end,
            signals_created=signals_created,
            signals_per_day=plan.quotas.signals_per_day,
            requests_per_minute=plan.quotas.requests_per_minute,
        )
