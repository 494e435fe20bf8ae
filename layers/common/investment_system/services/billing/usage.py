"""Daily usage: the signal quota of the user's plan, counted per UTC day.

The count lives in one counter row per user and day, incremented by a conditional UPDATE in the
same transaction as the signal it counts (repositories/billing/subscriptions.py explains why that is atomic):
a signal rolled back un-counts itself, and parallel creates can never pass the limit.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, time, timedelta

from sqlalchemy.orm import Session

from investment_system.db import unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import ErrorCode, RateLimited
from investment_system.observability import MetricName, add_metric, logger
from investment_system.repositories.billing.usage import UsageRepository
from investment_system.schemas.billing import UsageOut
from investment_system.services.billing.plan_terms import plan_of_user


def utc_day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """Start of `now`'s UTC day and start of the next."""
    start = datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
    return start, start + timedelta(days=1)


def consume_daily_signal_quota(session: Session, user_id: uuid.UUID, now: datetime | None = None) -> None:
    """Count one signal against today's quota; 429 QUOTA_EXCEEDED, Retry-After the next UTC midnight."""
    now = now or utcnow()
    plan = plan_of_user(session, user_id, now)
    if UsageRepository(session).increment_below(user_id, now.date(), plan.quotas.signals_per_day):
        return
    add_metric(MetricName.QUOTA_EXCEEDED)
    logger.info("Daily signal quota exhausted", extra={"plan": plan.code, "limit": plan.quotas.signals_per_day})
    _, next_day = utc_day_bounds(now)
    raise RateLimited(ErrorCode.QUOTA_EXCEEDED, math.ceil((next_day - now).total_seconds()))


def usage_today(user_id: uuid.UUID) -> UsageOut:
    with unit_of_work() as session:
        now = utcnow()
        plan = plan_of_user(session, user_id, now)
        start, end = utc_day_bounds(now)
        return UsageOut(
            period_start=start,
            period_end=end,
            signals_created=UsageRepository(session).signals_created(user_id, now.date()),
            signals_per_day=plan.quotas.signals_per_day,
            requests_per_minute=plan.quotas.requests_per_minute,
        )
