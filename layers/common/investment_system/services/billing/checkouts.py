"""Checkouts: how a user buys a dearer plan.

PUT /v1/billing/subscription to a dearer plan starts a checkout (PENDING, for 24 hours) and changes
nothing else: plan, quotas and limits stay until the payment provider reports the payment with an
`invoice.paid` naming the checkout (`data.checkout_id`), for its amount in its currency (a payment
that is not is acknowledged and not applied: `payment_mismatch`). A user has at most one pending
checkout: a newer one replaces it (REPLACED). The completion is a conditional UPDATE (PENDING, the
user's, not expired), so two deliveries racing complete it once. Expired and replaced checkouts are deleted by
the housekeeping job (services/system/housekeeping.py), which counts them as expired.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from investment_system.db.base import new_id
from investment_system.domain import PlanCode
from investment_system.models.billing import Subscription as SubscriptionRow
from investment_system.models.checkouts import Checkout as CheckoutRow
from investment_system.models.checkouts import CheckoutStatus
from investment_system.observability import MetricName, add_metric, logger
from investment_system.repositories.billing.checkouts import CheckoutRepository
from investment_system.schemas.billing import Checkout, PaymentEventData
from investment_system.schemas.plans import Plan

CHECKOUT_TTL = timedelta(hours=24)


def checkout_out(checkout: CheckoutRow) -> Checkout:
    return Checkout(
        id=checkout.id,
        plan=PlanCode(checkout.plan_code),
        amount_cents=checkout.amount_cents,
        currency=checkout.currency,
        status="PENDING",
        expires_at=checkout.expires_at,
    )


def start_checkout(session: Session, subscription: SubscriptionRow, plan: Plan, now: datetime) -> Checkout | None:
    """A pending checkout of `plan` at its price, replacing the user's pending one, while the user's
    `subscription` is at the version read (`CheckoutRepository.start`); None when it no longer was."""
    checkout = CheckoutRow(
        id=new_id(),
        user_id=subscription.user_id,
        plan_code=plan.code.value,
        amount_cents=plan.price_cents,
        currency=plan.currency,
        status=CheckoutStatus.PENDING.value,
        created_at=now,
        expires_at=now + CHECKOUT_TTL,
    )
    if not CheckoutRepository(session).start(checkout, subscription, now):
        return None
    add_metric(MetricName.CHECKOUTS_CREATED)
    logger.info("Checkout started", extra={"checkout_id": str(checkout.id), "plan": checkout.plan_code})
    return checkout_out(checkout)


def pending_checkout(session: Session, user_id: uuid.UUID, now: datetime) -> Checkout | None:
    """The user's checkout that can still be completed; an expired one is never shown."""
    checkout = CheckoutRepository(session).pending_for(user_id, now)
    return None if checkout is None else checkout_out(checkout)


def payment_mismatch(session: Session, checkout_id: uuid.UUID, data: PaymentEventData) -> str | None:
    """Why an invoice.paid naming `checkout_id` does not pay for that checkout, or None when it does: the
    checkout is the payer's, the amount and the currency (in either case) are the checkout's, and the
    plan, when the event names one, is the checkout's. A checkout's user, plan, amount and currency never
    change, so the read needs no lock; whether it can still be completed is `complete_checkout`'s."""
    checkout = CheckoutRepository(session).get(checkout_id)
    if checkout is None or checkout.user_id != data.user_id:
        return "unknown checkout"
    if data.amount_cents is None or data.currency is None:
        return "amount or currency missing"
    if data.amount_cents != checkout.amount_cents:
        return "amount differs"
    if data.currency.upper() != checkout.currency:
        return "currency differs"
    if data.plan is not None and data.plan != checkout.plan_code:
        return "plan differs"
    return None


def complete_checkout(
    session: Session, user_id: uuid.UUID, checkout_id: uuid.UUID, now: datetime
) -> CheckoutRow | None:
    """Complete the user's pending, unexpired checkout `checkout_id`; None (logged) when there is none."""
    repository = CheckoutRepository(session)
    if repository.complete(checkout_id, user_id, now):
        add_metric(MetricName.CHECKOUTS_COMPLETED)
        return repository.get(checkout_id)
    found = repository.get(checkout_id)
    if found is not None:
        session.refresh(found)  # read before (payment_mismatch): its status may have changed since
    if found is None or found.user_id != user_id:
        reason = "unknown checkout"
    elif found.status != CheckoutStatus.PENDING:
        reason = f"checkout {found.status.lower()}"
    else:
        reason = "checkout expired"
    logger.warning("Payment names a checkout that cannot be completed", extra={"reason": reason})
    return None
