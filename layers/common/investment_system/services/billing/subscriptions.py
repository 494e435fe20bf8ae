"""Subscriptions: one per user, created on first use; a paid plan only ever comes from a payment.

A user without a row is on `free`; the row is made by billing's first use (one code path for every
way a user comes to exist, billing kept out of the accounts code; the unique `user_id` settles a
race). A paid plan comes from the provider's `invoice.paid`; period ends, dunning and cancellations
are `Transition`s due at known moments, applied by every locked read or write (`catch_up`; GET locks
the row only when one is due) and by the scheduled job, and taken into account without writing by the
quota checks (`terms_at`): all give the same subscription. The whole table: docs/billing.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from investment_system.db import read_only, single_statement_write, unit_of_work
from investment_system.db.base import Base, new_id, utcnow
from investment_system.domain import PlanCode, SubscriptionStatus
from investment_system.errors import ErrorCode, NotFound
from investment_system.models.billing import Subscription as SubscriptionRow
from investment_system.models.users import User
from investment_system.observability import MetricName, add_metric, logger
from investment_system.repositories.base import versioned_change
from investment_system.repositories.billing.checkouts import CheckoutRepository
from investment_system.repositories.billing.subscriptions import SubscriptionRepository
from investment_system.schemas.billing import (
    Checkout,
    CheckoutStarted,
    PaymentEventData,
    ScheduledChange,
    Subscription,
)
from investment_system.schemas.plans import Plan
from investment_system.schemas.stream import StreamEventType
from investment_system.schemas.versions import Versioned
from investment_system.services.billing.checkouts import (
    checkout_out,
    complete_checkout,
    pending_checkout,
    start_checkout,
)
from investment_system.services.billing.limits import limit_follows_plan
from investment_system.services.billing.plan_terms import FREE_PLAN, Terms, Transition, add_months, grace_period
from investment_system.services.billing.plans import get_plan
from investment_system.services.stream.events import record_event
from investment_system.services.stream.recorded import write_recorded
from investment_system.services.system.audit import audit_row, record_change

if TYPE_CHECKING:
    from investment_system.services.system.idempotency import KeyClaim

ENTITY_TYPE = "subscription"
# A change of the subscription's own values: its audit action, and the values.
type Change = tuple[str, dict[str, Any]]
SUBSCRIPTION_CHANGED = StreamEventType.SUBSCRIPTION_CHANGED


def current_subscription(session: Session, user_id: uuid.UUID, now: datetime) -> SubscriptionRow:
    """The user's subscription, locked for this transaction: created on first use, brought up to date."""
    repository = SubscriptionRepository(session)
    subscription = repository.for_user(user_id, for_update=True)
    if subscription is None:
        subscription = _create_free(session, repository, user_id, now)
    catch_up(session, subscription, now)
    return subscription


def catch_up(session: Session, subscription: SubscriptionRow, now: datetime) -> None:
    """Apply, one by one and each with its audit row, the transitions due by `now` (the row is locked)."""
    grace = grace_period()
    while (due := _due_by(subscription, now, grace)) is not None:
        at, transition = due
        before = _snapshot(subscription)
        Terms.of(subscription).after(transition, at).write_to(subscription)
        if transition == Transition.RENEWED:
            continue
        add_metric(MetricName.DUNNING_DOWNGRADES if transition == Transition.DUNNING else MetricName.DOWNGRADES_APPLIED)
        if subscription.plan_code != before["plan"]:
            add_metric(MetricName.PLAN_CHANGED)
        _record(session, subscription, transition.value, before, actor_id=None)


def _due_by(subscription: SubscriptionRow, now: datetime, grace: timedelta) -> tuple[datetime, Transition] | None:
    """The next transition of the subscription and its moment, when it is due by `now`."""
    due = Terms.of(subscription).due(grace)
    return due if due is not None and due[0] <= now else None


def subscription_out(session: Session, subscription: SubscriptionRow, now: datetime) -> Subscription:
    return _subscription_with(session, subscription, pending_checkout(session, subscription.user_id, now))


def _subscription_with(session: Session, subscription: SubscriptionRow, pending: Checkout | None) -> Subscription:
    """The subscription as the API shows it, with the user's pending checkout."""
    scheduled = subscription.scheduled_plan_code
    return Subscription(
        plan=get_plan(session, subscription.plan_code),
        status=SubscriptionStatus(subscription.status),
        current_period_start=subscription.current_period_start,
        current_period_end=subscription.current_period_end,
        cancel_at_period_end=subscription.cancel_at_period_end,
        scheduled_change=(
            None
            if scheduled is None
            else ScheduledChange(plan=PlanCode(scheduled), effective_at=subscription.current_period_end)
        ),
        pending_checkout=pending,
    )


def get_subscription(user_id: uuid.UUID) -> Subscription:
    return versioned_subscription(user_id).body


def versioned_subscription(user_id: uuid.UUID) -> Versioned[Subscription]:
    """The user's subscription and its version (its ETag's): the row's, and the pending checkout shown
    with it, which a checkout's start or expiry changes without writing the row. Read in one query, with
    no transaction, when it is up to date; a first use, or a transition due, is written first."""
    with read_only() as session:
        now = utcnow()
        found = CheckoutRepository(session).subscription_and_pending(user_id, now)
        if found is not None and _due_by(found[0], now, grace_period()) is None:
            subscription, checkout = found
            return _versioned(session, subscription, None if checkout is None else checkout_out(checkout))
    with unit_of_work() as session:
        now = utcnow()
        subscription = current_subscription(session, user_id, now)
        return _versioned(session, subscription, pending_checkout(session, user_id, now))


def _versioned(session: Session, subscription: SubscriptionRow, pending: Checkout | None) -> Versioned[Subscription]:
    out = _subscription_with(session, subscription, pending)
    return Versioned(out, str(subscription.version) if pending is None else f"{subscription.version}-{pending.id}")


def change_plan(claim: KeyClaim | None, user_id: uuid.UUID, plan_code: str) -> Subscription | CheckoutStarted:
    """PUT /v1/billing/subscription: a dearer plan starts a checkout and changes nothing else; a
    cheaper one is scheduled for the period's end; the current plan drops what was scheduled. With an
    Idempotency-Key's `claim`, in a transaction that completes it, with the subscription locked; without,
    optimistically first (`_changed_as_read`), then so."""
    if claim is None:
        changed = _changed_as_read(user_id, partial(_plan_change, plan_code))
        if changed is not None:
            return changed
    with unit_of_work() as session:
        result = _locked_plan_change(session, user_id, plan_code)
        if claim is not None:
            claim.complete(session, result)
        return result


def _locked_plan_change(session: Session, user_id: uuid.UUID, plan_code: str) -> Subscription | CheckoutStarted:
    get_plan(session, plan_code)  # 404 PLAN_NOT_FOUND before anything changes
    now = utcnow()
    subscription = current_subscription(session, user_id, now)
    change = _plan_change(plan_code, session, subscription)
    if isinstance(change, Plan):
        checkout = start_checkout(session, subscription, change, now)  # the pending one from now on
        assert checkout is not None  # the row is locked: it is at the version read
        return CheckoutStarted(checkout=checkout, subscription=_subscription_with(session, subscription, checkout))
    before = _snapshot(subscription)
    action, values = change
    _apply(subscription, values)
    shown = _record(session, subscription, action, before, actor_id=user_id)
    return shown or subscription_out(session, subscription, now)


def _plan_change(plan_code: str, session: Session, subscription: SubscriptionRow) -> Plan | Change:
    """What choosing `plan_code` does: the dearer plan a checkout is for, or the change of the subscription.
    404 PLAN_NOT_FOUND."""
    target = get_plan(session, plan_code)
    current = get_plan(session, subscription.plan_code)
    if target.code != current.code and target.price_cents >= current.price_cents:
        return target
    if target.code == current.code:
        return "change_withdrawn", {"cancel_at_period_end": False, "scheduled_plan_code": None}
    return "downgrade_scheduled", {"cancel_at_period_end": False, "scheduled_plan_code": target.code.value}


def cancel_at_period_end(user_id: uuid.UUID) -> Subscription:
    """Cancel when the current period ends (instead of any scheduled change); until then the plan
    stays. Repeating it changes nothing."""
    cancel: Change = ("cancel_requested", {"cancel_at_period_end": True, "scheduled_plan_code": None})
    shown = _changed_as_read(user_id, lambda _session, _subscription: cancel)
    if isinstance(shown, Subscription):
        return shown
    with unit_of_work() as session:
        now = utcnow()
        subscription = current_subscription(session, user_id, now)
        before = _snapshot(subscription)
        subscription.cancel_at_period_end = True
        subscription.scheduled_plan_code = None
        shown = _record(session, subscription, "cancel_requested", before, actor_id=user_id)
        return shown or subscription_out(session, subscription, now)


def record_payment(session: Session, subscription: SubscriptionRow, data: PaymentEventData, now: datetime) -> None:
    """invoice.paid: ACTIVE on the plan paid for, with a new period (`data.period_end`, else a month).

    The plan is `data.plan`, else that of the checkout it names, else the current one (a renewal). A
    pending checkout it names is completed, and the purchase supersedes what was scheduled. A plan
    that no checkout of the user's asked for is applied all the same, since the provider took the
    money (counted and logged: a provider-side change, or a checkout that expired or was replaced)."""
    completed = complete_checkout(session, subscription.user_id, data.checkout_id, now) if data.checkout_id else None
    plan_code = data.plan or (completed.plan_code if completed else subscription.plan_code)
    get_plan(session, plan_code)  # 404 PLAN_NOT_FOUND: not stored, so the provider retries
    if plan_code != subscription.plan_code and (completed is None or completed.plan_code != plan_code):
        add_metric(MetricName.PAYMENTS_WITHOUT_CHECKOUT)
        logger.warning(
            "Payment for a plan the user did not check out; applied",
            extra={"plan": plan_code, "current_plan": subscription.plan_code, "checkout_id": str(data.checkout_id)},
        )
    before = _snapshot(subscription)
    if plan_code != subscription.plan_code:
        add_metric(MetricName.PLAN_CHANGED)
    supersedes = plan_code != subscription.plan_code or completed is not None
    _apply(subscription, _paid(plan_code, data, now, supersedes=supersedes))
    _record(session, subscription, "payment_succeeded", before, actor_id=None)


def renewal(data: PaymentEventData, subscription: SubscriptionRow, now: datetime) -> Change | None:
    """invoice.paid that renews the plan in force (no checkout named, no other plan) as `record_payment` does;
    None for any other payment."""
    if data.checkout_id is not None or data.plan not in (None, subscription.plan_code):
        return None
    return "payment_succeeded", _paid(subscription.plan_code, data, now, supersedes=False)


def _paid(plan_code: str, data: PaymentEventData, now: datetime, *, supersedes: bool) -> dict[str, Any]:
    """A paid period of `plan_code`: ACTIVE, from now to `data.period_end` (else a month); a purchase
    (`supersedes`) also drops a cancellation or a scheduled change."""
    start = now.replace(microsecond=0)
    values: dict[str, Any] = {
        "plan_code": plan_code,
        "status": SubscriptionStatus.ACTIVE.value,
        "past_due_since": None,
        "current_period_start": start,
        "current_period_end": data.period_end or add_months(start),
    }
    return values | ({"cancel_at_period_end": False, "scheduled_plan_code": None} if supersedes else {})


def record_payment_failure(session: Session, subscription: SubscriptionRow, now: datetime) -> None:
    """invoice.payment_failed: `payment_failure`, on the locked row."""
    before = _snapshot(subscription)
    _apply(subscription, payment_failure(subscription, now)[1])
    _record(session, subscription, "payment_failed", before, actor_id=None)


def payment_failure(subscription: SubscriptionRow, now: datetime) -> Change:
    """invoice.payment_failed: PAST_DUE from now (or since the first failure); the plan's quotas hold for
    the grace period, then dunning returns the user to free."""
    already = subscription.status == SubscriptionStatus.PAST_DUE
    since = subscription.past_due_since if already else now
    return "payment_failed", {"status": SubscriptionStatus.PAST_DUE.value, "past_due_since": since}


def _apply(subscription: SubscriptionRow, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(subscription, name, value)


def record_cancellation(session: Session, subscription: SubscriptionRow, now: datetime) -> None:
    """subscription.canceled: CANCELED, back on free from now."""
    before = _snapshot(subscription)
    if subscription.plan_code != FREE_PLAN:
        add_metric(MetricName.PLAN_CHANGED)
    Terms.of(subscription).after(Transition.CANCELED, now.replace(microsecond=0)).write_to(subscription)
    _record(session, subscription, "canceled", before, actor_id=None)


def _free_subscription(user_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """A user's first subscription: free, active, a month from now (to the second)."""
    start = now.replace(microsecond=0)
    return {
        "id": new_id(),
        "user_id": user_id,
        "plan_code": FREE_PLAN,
        "status": SubscriptionStatus.ACTIVE.value,
        "current_period_start": start,
        "current_period_end": add_months(start),
        "cancel_at_period_end": False,
    }


def _create_free(
    session: Session, repository: SubscriptionRepository, user_id: uuid.UUID, now: datetime
) -> SubscriptionRow:
    if session.get(User, user_id) is None:  # no statement when the transaction has read the user (the webhook)
        raise NotFound(ErrorCode.USER_NOT_FOUND)
    subscription, created = repository.insert_or_lock(_free_subscription(user_id, now))
    if created:
        _record(session, subscription, "created", {}, actor_id=None)
    return subscription


def _changed_as_read(
    user_id: uuid.UUID, decide: Callable[[Session, SubscriptionRow], Plan | Change]
) -> Subscription | CheckoutStarted | None:
    """The user's change of their subscription, `decide`d from the row as read, made optimistically as a
    signal's is: the row and the pending checkout read in one query, then the change written with its audit
    row and stream event (or the checkout started) only while the row is still at the version read; on
    PostgreSQL one statement each, no transaction. What the change gives; None when it needs the row
    locked: no row yet, a transition due, or a concurrent change in between."""
    with read_only() as session:
        now = utcnow()
        found = _read_unlocked(session, user_id, now)
        if found is None:
            return None
        subscription, pending = found
        change = decide(session, subscription)
        if not isinstance(change, Plan) and _leaves_as_is(subscription, change):
            return _subscription_with(session, subscription, pending)
    if not isinstance(change, Plan):
        return _written_as_read(subscription, pending, change, now, actor_id=user_id)
    with single_statement_write() as session:
        started = start_checkout(session, subscription, change, now)
        if started is None:
            return None
        return CheckoutStarted(checkout=started, subscription=_subscription_with(session, subscription, started))


def provider_change_as_read(
    user_id: uuid.UUID, decide: Callable[[SubscriptionRow, datetime], Change | None], record: Base
) -> bool:
    """A payment provider's event that changes the subscription and not its plan, made optimistically as a
    user's change is (`_changed_as_read`), with `record`, the event's row, in the same statement (a
    redelivery fails it on the row's key: IntegrityError). `decide` gives the change from the row as read,
    or None. Whether it was made; False when it needs the row locked: no row yet, a transition due, no
    change `decide`d, nothing to change, or a concurrent change in between."""
    with read_only() as session:
        now = utcnow()
        found = _read_unlocked(session, user_id, now)
    if found is None:
        return False
    subscription, pending = found
    change = decide(subscription, now)
    if change is None or _leaves_as_is(subscription, change):
        return False
    return _written_as_read(subscription, pending, change, now, actor_id=None, records=[record]) is not None


def _read_unlocked(
    session: Session, user_id: uuid.UUID, now: datetime
) -> tuple[SubscriptionRow, Checkout | None] | None:
    """The subscription and its pending checkout, read in one query for a change made as read; None when it
    needs the row locked: no row yet, or a transition due."""
    found = CheckoutRepository(session).subscription_and_pending(user_id, now)
    if found is None or _due_by(found[0], now, grace_period()) is not None:
        return None
    subscription, checkout = found
    return subscription, None if checkout is None else checkout_out(checkout)


def _leaves_as_is(subscription: SubscriptionRow, change: Change) -> bool:
    return all(getattr(subscription, name) == value for name, value in change[1].items())


def _written_as_read(
    subscription: SubscriptionRow,
    pending: Checkout | None,
    change: Change,
    now: datetime,
    *,
    actor_id: uuid.UUID | None,
    records: Sequence[Base] = (),
) -> Subscription | None:
    """`change` written with its audit row, stream event and `records` while the row is at the version read
    (one statement on PostgreSQL, no transaction); the subscription it leaves, or None when it changed."""
    action, values = change
    with single_statement_write() as session:
        write, changed = versioned_change(subscription, now, values)
        shown = _subscription_with(session, changed, pending)
        audit = audit_row(
            entity_type=ENTITY_TYPE,
            entity_id=subscription.id,
            action=action,
            actor_id=actor_id,
            before=_snapshot(subscription),
            after=_snapshot(changed),
        )
        user_id = subscription.user_id
        written = write_recorded(session, write, audit, user_id, SUBSCRIPTION_CHANGED, shown, records=records)
        return shown if written else None


def _snapshot(subscription: SubscriptionRow) -> dict[str, Any]:
    return {
        "plan": subscription.plan_code,
        "status": subscription.status,
        "current_period_start": subscription.current_period_start.isoformat(),
        "current_period_end": subscription.current_period_end.isoformat(),
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "scheduled_plan": subscription.scheduled_plan_code,
        "past_due_since": subscription.past_due_since.isoformat() if subscription.past_due_since else None,
    }


def _record(
    session: Session, subscription: SubscriptionRow, action: str, before: dict[str, Any], *, actor_id: uuid.UUID | None
) -> Subscription | None:
    """Audit a change (nothing when nothing changed); a new plan's rate limit applies once committed.
    Returns the subscription as its stream event shows it, which the request that changed it answers."""
    after = _snapshot(subscription)
    if after == before:
        return None
    if before and after["plan"] != before["plan"]:  # a new row is on free, as its tokens say
        plan = get_plan(session, subscription.plan_code)
        limit_follows_plan(session, subscription.user_id, plan.quotas.requests_per_minute)
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
    shown = subscription_out(session, subscription, utcnow())
    record_event(session, subscription.user_id, SUBSCRIPTION_CHANGED, shown)
    return shown
