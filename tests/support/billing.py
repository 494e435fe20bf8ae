"""Helpers for the billing tests: billing routes, plan changes, signed webhooks, emitted metrics."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from investment_system.db.base import utcnow
from investment_system.db.engine import unit_of_work
from investment_system.models.billing import Subscription
from investment_system.models.checkouts import Checkout
from investment_system.observability import metrics
from investment_system.schemas.billing import CheckoutStarted, PaymentEvent
from investment_system.services.billing.subscriptions import change_plan
from investment_system.services.billing.usage import daily_signal_quota
from investment_system.services.billing.webhooks import receive_payment_event, sign
from investment_system.settings import get_settings
from tests.support.functions import Reply
from tests.support.signals import Investor, call

PLANS = ("ListPlansFunction", "GET", "/v1/billing/plans")
SUBSCRIPTION = ("GetSubscriptionFunction", "GET", "/v1/billing/subscription")
CHANGE_PLAN = ("ChangePlanFunction", "PUT", "/v1/billing/subscription")
CANCEL = ("CancelSubscriptionFunction", "DELETE", "/v1/billing/subscription")
USAGE = ("GetUsageFunction", "GET", "/v1/billing/usage")
WEBHOOK = ("PaymentWebhookFunction", "POST", "/v1/billing/webhooks/payments")


def count_a_signal(user_id: uuid.UUID, now: datetime | None = None) -> None:
    """One signal counted against the user's quota of the day, as POST /v1/signals counts it, without the
    signal: 429 QUOTA_EXCEEDED once the quota is used up."""
    now = now or utcnow()
    with unit_of_work() as session:
        quota = daily_signal_quota(session, user_id, now)
        if not quota.count.passes(session):
            raise quota.exhausted()


def put_on_plan(investor: Investor, plan: str) -> None:
    """Put the investor on a dearer plan the only way there is: a checkout, paid (the provider's invoice.paid)."""
    started = change_plan(None, investor.user_id, plan)
    assert isinstance(started, CheckoutStarted)
    pay(investor.user_id, **paying(started.checkout.model_dump(mode="json")))


def paying(checkout: dict[str, Any]) -> dict[str, Any]:
    """The `data` of an invoice.paid that pays `checkout` (as the API answered it) in full."""
    return {"checkout_id": checkout["id"], "amount_cents": checkout["amount_cents"], "currency": checkout["currency"]}


def pay(user_id: uuid.UUID, **data: Any) -> None:
    """The provider's invoice.paid for the user, as the webhook applies it once its signature passed."""
    receive_payment_event(PaymentEvent.model_validate_json(payment_event("invoice.paid", user_id, **data)))


def time_passes(user_id: uuid.UUID, delta: timedelta) -> None:
    """`delta` passes for the user's billing: every moment stored for it moves `delta` into the past."""
    with unit_of_work() as session:
        for subscription in session.scalars(select(Subscription).where(Subscription.user_id == user_id)):
            subscription.current_period_start -= delta
            subscription.current_period_end -= delta
            if subscription.past_due_since is not None:
                subscription.past_due_since -= delta
        for checkout in session.scalars(select(Checkout).where(Checkout.user_id == user_id)):
            checkout.created_at -= delta
            checkout.expires_at -= delta


def stored_subscription(user_id: uuid.UUID) -> Subscription:
    with unit_of_work() as session:
        subscription = session.scalars(select(Subscription).where(Subscription.user_id == user_id)).one()
        session.expunge(subscription)
        return subscription


def payment_event(event_type: str, user_id: uuid.UUID, event_id: str | None = None, **data: Any) -> str:
    """A provider event as the raw JSON text it signs."""
    return json.dumps(
        {"id": event_id or f"evt_{uuid.uuid4().hex}", "type": event_type, "data": {"user_id": str(user_id), **data}}
    )


def signature(body: str, *, secret: str | None = None, at: float | None = None) -> str:
    timestamp = int(time.time() if at is None else at)
    secret = secret if secret is not None else get_settings().security.payment_webhook_secret
    return f"t={timestamp},v1={sign(secret, timestamp, body.encode())}"


def deliver(body: str, signature_header: str | None = "sign") -> Reply:
    """POST a raw event to the webhook, signed correctly unless another header (or None) is given."""
    header = signature(body) if signature_header == "sign" else signature_header
    return call(WEBHOOK, body=body, headers={"X-Signature": header} if header is not None else {})


def count_metrics_from_here(capsys: Any) -> None:
    """Forget the output so far, and the metrics services added outside a handler (flushed by none yet)."""
    metrics.clear_metrics()
    capsys.readouterr()


def emitted_metrics(stdout: str) -> dict[str, float]:
    """Totals of the EMF metrics printed to stdout, by name."""
    totals: dict[str, float] = {}
    for line in stdout.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for definition in document["_aws"]["CloudWatchMetrics"]:
            for metric in definition["Metrics"]:
                values = document[metric["Name"]]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(
                    values if isinstance(values, list) else [values]
                )
    return totals
