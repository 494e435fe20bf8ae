"""Subscriptions: one per user, created on first use, changed by the user and by payment events.

A user has no subscription row until billing first touches them (any billing route, a payment event,
or a change of plan); until then, and whenever the row is missing, they are on `free`. Creating it
lazily, rather than in registration's transaction, covers every way a user comes to exist (sign-up,
the operator's `create-admin`, users from before this table) with one code path, and keeps billing
out of the accounts code. Two first uses racing are settled by the unique `user_id`.

States (docs/api.md): ACTIVE, PAST_DUE, CANCELED. A cancellation takes effect at the period's end: the
first read after it moves the subscription to CANCELED on `free`. Free periods renew by themselves;
paid periods are renewed by the provider's `invoice.paid`.
"""

from __future__ import annotations

import calendar
import time
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from investment_system.db import unit_of_work
from investment_system.db.base import new_id, utcnow
from investment_system.errors import ErrorCode, NotFound
from investment_system.models.billing import Subscription, SubscriptionStatus
from investment_system.models.users import User
from investment_system.observability import MetricName, add_metric
from investment_system.repositories.billing import SubscriptionRepository
from investment_system.schemas.billing import PlanOut, SubscriptionOut
from investment_system.services.audit import record_change
from investment_system.services.plans import get_plan, plan_catalogue

FREE_PLAN = "free"
ENTITY_TYPE = "subscription"


def add_months(moment: datetime, months: int = 1) -> datetime:
    """The same day and time `months` later; the 31st becomes the month's last day where needed."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def effective_plan_code(subscription: Subscription | None, now: datetime) -> str:
    """The plan whose quotas apply now: free without a subscription or once a cancellation is due."""
    if subscription is None:
        return FREE_PLAN
    if subscription.cancel_at_period_end and subscription.current_period_end <= now:
        return FREE_PLAN
    return subscription.plan_code


def plan_of_user(session: Session, user_id: uuid.UUID, now: datetime | None = None) -> PlanOut:
    """The plan whose quotas apply to the user now; reads only (quota checks, usage, rate limits)."""
    subscription = SubscriptionRepository(session).for_user(user_id)
    return plan_catalogue(session)[effective_plan_code(subscription, now or utcnow())]


# user id -> (requests per minute, monotonic deadline): the rate-limit guard asks on every request.
_requests_per_minute: dict[uuid.UUID, tuple[int, float]] = {}
REQUESTS_PER_MINUTE_TTL_SECONDS = 60.0
_MAX_CACHED_USERS = 10_000


def requests_per_minute(user_id: uuid.UUID) -> int:
    """The user's plan's request rate limit, read at most once a minute per container; a plan change
    made in this container is seen at once, one made elsewhere within the minute."""
    now = time.monotonic()
    cached = _requests_per_minute.get(user_id)
    if cached is not None and cached[1] > now:
        return cached[0]
    with unit_of_work() as session:
        limit = plan_of_user(session, user_id).quotas.requests_per_minute
    if len(_requests_per_minute) >= _MAX_CACHED_USERS:
        _requests_per_minute.clear()
    _requests_per_minute[user_id] = (limit, now + REQUESTS_PER_MINUTE_TTL_SECONDS)
    return limit


def current_subscription(session: Session, user_id: uuid.UUID, now: datetime) -> Subscription:
    """The user's subscription, locked for this transaction: created on first use, brought up to date."""
    repository = SubscriptionRepository(session)
    subscription = repository.for_user(user_id, for_update=True)
    if subscription is None:
        subscription = _create_free(session, repository, user_id, now)
    _close_elapsed_periods(session, subscription, now)
    return subscription


def subscription_out(session: Session, subscription: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        plan=get_plan(session, subscription.plan_code),
        status=SubscriptionStatus(subscription.status),
        current_period_start=subscription.current_period_start,
        current_period_end=subscription.current_period_end,
        cancel_at_period_end=subscription.cancel_at_period_end,
    )


def get_subscription(user_id: uuid.UUID) -> SubscriptionOut:
    with unit_of_work() as session:
        return subscription_out(session, current_subscription(session, user_id, utcnow()))


def change_plan(session: Session, user_id: uuid.UUID, plan_code: str) -> SubscriptionOut:
    """Switch to `plan_code` (a new period starts now) and withdraw a pending cancellation.

    Asking for the current plan changes nothing else, so a repeated PUT is harmless.
    """
    get_plan(session, plan_code)  # 404 PLAN_NOT_FOUND before anything changes
    now = utcnow()
    subscription = current_subscription(session, user_id, now)
    before = _snapshot(subscription)
    if subscription.plan_code != plan_code:
        subscription.plan_code = plan_code
        _start_period(subscription, now)
        if subscription.status == SubscriptionStatus.CANCELED:
            subscription.status = SubscriptionStatus.ACTIVE.value
        add_metric(MetricName.PLAN_CHANGED)
    subscription.cancel_at_period_end = False
    _record(session, subscription, "plan_changed", before, actor_id=user_id)
    return subscription_out(session, subscription)


def cancel_at_period_end(user_id: uuid.UUID) -> SubscriptionOut:
    """Cancel when the current period ends; until then the plan stays. Repeating it changes nothing."""
    with unit_of_work() as session:
        subscription = current_subscription(session, user_id, utcnow())
        before = _snapshot(subscription)
        subscription.cancel_at_period_end = True
        _record(session, subscription, "cancel_requested", before, actor_id=user_id)
        return subscription_out(session, subscription)


def record_payment(
    session: Session, subscription: Subscription, plan_code: str | None, period_end: datetime | None
) -> None:
    """invoice.paid: ACTIVE, on `plan_code` when given; a given `period_end` closes the period paid for."""
    now = utcnow()
    before = _snapshot(subscription)
    if plan_code is not None:
        get_plan(session, plan_code)
        if plan_code != subscription.plan_code:
            subscription.plan_code = plan_code
            add_metric(MetricName.PLAN_CHANGED)
    subscription.status = SubscriptionStatus.ACTIVE.value
    if period_end is not None:
        subscription.current_period_start = now.replace(microsecond=0)
        subscription.current_period_end = period_end
    _record(session, subscription, "payment_succeeded", before, actor_id=None)


def record_payment_failure(session: Session, subscription: Subscription) -> None:
    """invoice.payment_failed: PAST_DUE; the plan's quotas stay until the provider cancels."""
    before = _snapshot(subscription)
    subscription.status = SubscriptionStatus.PAST_DUE.value
    _record(session, subscription, "payment_failed", before, actor_id=None)


def record_cancellation(session: Session, subscription: Subscription) -> None:
    """subscription.canceled: CANCELED, back on free from now."""
    before = _snapshot(subscription)
    _cancel_now(subscription, utcnow())
    _record(session, subscription, "canceled", before, actor_id=None)


def _create_free(
    session: Session, repository: SubscriptionRepository, user_id: uuid.UUID, now: datetime
) -> Subscription:
    if session.get(User, user_id) is None:
        raise NotFound(ErrorCode.USER_NOT_FOUND)
    start = now.replace(microsecond=0)
    values: dict[str, Any] = {
        "id": new_id(),
        "user_id": user_id,
        "plan_code": FREE_PLAN,
        "status": SubscriptionStatus.ACTIVE.value,
        "current_period_start": start,
        "current_period_end": add_months(start),
        "cancel_at_period_end": False,
    }
    repository.insert_if_absent(values)
    subscription = repository.for_user(user_id, for_update=True)
    assert subscription is not None  # inserted by us or by a concurrent first use
    if subscription.id == values["id"]:
        _record(session, subscription, "created", {}, actor_id=None)
    return subscription


def _close_elapsed_periods(session: Session, subscription: Subscription, now: datetime) -> None:
    if subscription.current_period_end > now:
        return
    if subscription.cancel_at_period_end:
        before = _snapshot(subscription)
        _cancel_now(subscription, now)
        _record(session, subscription, "canceled", before, actor_id=None)
    elif subscription.plan_code == FREE_PLAN:
        while subscription.current_period_end <= now:
            subscription.current_period_start = subscription.current_period_end
            subscription.current_period_end = add_months(subscription.current_period_end)


def _cancel_now(subscription: Subscription, now: datetime) -> None:
    if subscription.plan_code != FREE_PLAN:
        add_metric(MetricName.PLAN_CHANGED)
    subscription.plan_code = FREE_PLAN
    subscription.status = SubscriptionStatus.CANCELED.value
    subscription.cancel_at_period_end = False
    _start_period(subscription, now)


def _start_period(subscription: Subscription, now: datetime) -> None:
    subscription.current_period_start = now.replace(microsecond=0)
    subscription.current_period_end = add_months(subscription.current_period_start)


def _snapshot(subscription: Subscription) -> dict[str, Any]:
    return {
        "plan": subscription.plan_code,
        "status": subscription.status,
        "current_period_start": subscription.current_period_start.isoformat(),
        "current_period_end": subscription.current_period_end.isoformat(),
        "cancel_at_period_end": subscription.cancel_at_period_end,
    }


def _record(
    session: Session, subscription: Subscription, action: str, before: dict[str, Any], *, actor_id: uuid.UUID | None
) -> None:
    """Audit a change (nothing when nothing changed); rate-limit lookups of this container forget the old plan."""
    after = _snapshot(subscription)
    if after == before:
        return
    session.flush()
    record_change(
        session,
        entity_type=ENTITY_TYPE,
        entity_id=subscription.id,
        action=action,
        actor_id=actor_id,
        before=before,
        after=after,
    )
    _requests_per_minute.pop(subscription.user_id, None)
