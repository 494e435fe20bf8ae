"""The plan in force: a subscription's terms and the transitions due on them, read without writing.

The quota checks, the usage read and every token issued (whose `rpm` claim is the plan's request
rate) need only which plan applies now. That is computed here from the subscription row alone
(`terms_at`), apart from what changes a subscription (services/billing/subscriptions.py, with its audit
trail, stream events and checkouts), so that the functions that only read it load none of that.
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from investment_system.db.base import utcnow
from investment_system.domain import PlanCode, SubscriptionStatus
from investment_system.models.billing import Subscription
from investment_system.repositories.billing.subscriptions import SubscriptionRepository
from investment_system.schemas.plans import Plan
from investment_system.services.billing.plans import plan_catalogue
from investment_system.settings import get_settings

FREE_PLAN = PlanCode.FREE.value


def add_months(moment: datetime, months: int = 1) -> datetime:
    """The same day and time `months` later; the 31st becomes the month's last day where needed."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def grace_period() -> timedelta:
    return timedelta(days=get_settings().billing.grace_days)


class Transition(StrEnum):
    """A change due at a moment; the value is its audit action. Listed in the order they win a tie."""

    DUNNING = "dunning_downgrade"  # PAST_DUE for the grace period: CANCELED, on free
    CANCELED = "canceled"  # cancel_at_period_end, at the period's end: CANCELED, on free
    DOWNGRADED = "downgraded"  # the scheduled plan, at the period's end
    RENEWED = "renewed"  # a free period ends and the next begins


@dataclass(frozen=True, slots=True)
class Terms:
    """What a subscription row says, as a value the transitions work on."""

    plan_code: str
    status: SubscriptionStatus
    period_start: datetime
    period_end: datetime
    cancel_at_period_end: bool
    scheduled_plan_code: str | None
    past_due_since: datetime | None

    @classmethod
    def of(cls, subscription: Subscription) -> Terms:
        return cls(
            plan_code=subscription.plan_code,
            status=SubscriptionStatus(subscription.status),
            period_start=subscription.current_period_start,
            period_end=subscription.current_period_end,
            cancel_at_period_end=subscription.cancel_at_period_end,
            scheduled_plan_code=subscription.scheduled_plan_code,
            past_due_since=subscription.past_due_since,
        )

    def write_to(self, subscription: Subscription) -> None:
        subscription.plan_code = self.plan_code
        subscription.status = self.status.value
        subscription.current_period_start = self.period_start
        subscription.current_period_end = self.period_end
        subscription.cancel_at_period_end = self.cancel_at_period_end
        subscription.scheduled_plan_code = self.scheduled_plan_code
        subscription.past_due_since = self.past_due_since

    def due(self, grace: timedelta) -> tuple[datetime, Transition] | None:
        """The next transition and its moment; None when nothing is scheduled."""
        candidates: list[tuple[datetime, int, Transition]] = []
        if self.status == SubscriptionStatus.PAST_DUE and self.past_due_since is not None:
            candidates.append((self.past_due_since + grace, 0, Transition.DUNNING))
        if self.cancel_at_period_end:
            candidates.append((self.period_end, 1, Transition.CANCELED))
        elif self.scheduled_plan_code is not None:
            candidates.append((self.period_end, 2, Transition.DOWNGRADED))
        elif self.plan_code == FREE_PLAN:
            candidates.append((self.period_end, 3, Transition.RENEWED))
        if not candidates:
            return None
        at, _, transition = min(candidates)
        return at, transition

    def after(self, transition: Transition, at: datetime) -> Terms:
        """The terms once `transition` took effect at `at`: a new period starts then."""
        start, end = at, add_months(at)
        if transition == Transition.DOWNGRADED and self.scheduled_plan_code != FREE_PLAN:
            plan_code = str(self.scheduled_plan_code)
            return replace(self, plan_code=plan_code, scheduled_plan_code=None, period_start=start, period_end=end)
        if transition == Transition.RENEWED:
            return replace(self, period_start=start, period_end=end)
        # Back on free: ACTIVE when the user chose it, CANCELED when their subscription ended.
        status = SubscriptionStatus.ACTIVE if transition == Transition.DOWNGRADED else SubscriptionStatus.CANCELED
        return Terms(
            FREE_PLAN, status, start, end, cancel_at_period_end=False, scheduled_plan_code=None, past_due_since=None
        )


def terms_at(terms: Terms, now: datetime, grace: timedelta) -> Terms:
    """The terms in force at `now`: every transition due by then taken, none written."""
    while (due := terms.due(grace)) is not None and due[0] <= now:
        terms = terms.after(due[1], due[0])
    return terms


def plan_in_force(subscription: Subscription | None, now: datetime) -> str:
    """The plan whose quotas apply at `now`: free without a subscription."""
    if subscription is None:
        return FREE_PLAN
    return terms_at(Terms.of(subscription), now, grace_period()).plan_code


def plan_of_user(session: Session, user_id: uuid.UUID, now: datetime | None = None) -> Plan:
    """The plan whose quotas apply to the user now; reads only (quota checks, usage, rate limits)."""
    return plan_of(session, SubscriptionRepository(session).for_user(user_id), now or utcnow())


def plan_of(session: Session, subscription: Subscription | None, now: datetime) -> Plan:
    """The plan whose quotas apply at `now` to the holder of `subscription` (as read by the caller)."""
    return plan_catalogue(session)[plan_in_force(subscription, now)]
