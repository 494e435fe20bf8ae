"""POST /v1/billing/webhooks/payments through its handler: signatures, transitions, duplicates."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from billing_support import (
    SUBSCRIPTION,
    call,
    count_metrics_from_here,
    deliver,
    emitted_metrics,
    payment_event,
    put_on_plan,
    signature,
)
from signal_support import make_investor

from investment_system.db.engine import unit_of_work
from investment_system.models import PaymentEvent


def _subscription(investor):
    return call(SUBSCRIPTION, investor).json


def test_invoice_paid_activates_the_plan_and_period_it_pays_for(db, capsys):
    # Given a free user whose payment for pro went through
    investor = make_investor()
    period_end = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    body = payment_event("invoice.paid", investor.user_id, plan="pro", period_end=period_end.isoformat())
    count_metrics_from_here(capsys)
    # When the provider reports it
    reply = deliver(body)
    # Then it is acknowledged, and the user is ACTIVE on pro until the paid period's end
    assert reply.status == 200
    assert reply.json == {"received": True}
    subscription = _subscription(investor)
    assert (subscription["status"], subscription["plan"]["code"]) == ("ACTIVE", "pro")
    assert subscription["current_period_end"] == period_end.strftime("%Y-%m-%dT%H:%M:%SZ")
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.get("WebhooksReceived") == 1
    assert metrics.get("WebhooksApplied") == 1


def test_payment_failure_makes_the_subscription_past_due(db):
    investor = make_investor()
    put_on_plan(investor, "pro")
    assert deliver(payment_event("invoice.payment_failed", investor.user_id)).status == 200
    subscription = _subscription(investor)
    assert (subscription["status"], subscription["plan"]["code"]) == ("PAST_DUE", "pro")
    # And a later successful payment makes it ACTIVE again
    assert deliver(payment_event("invoice.paid", investor.user_id)).status == 200
    assert _subscription(investor)["status"] == "ACTIVE"


def test_provider_cancellation_cancels_and_returns_the_user_to_free(db):
    investor = make_investor()
    put_on_plan(investor, "enterprise")
    assert deliver(payment_event("subscription.canceled", investor.user_id)).status == 200
    subscription = _subscription(investor)
    assert (subscription["status"], subscription["plan"]["code"]) == ("CANCELED", "free")


def test_the_same_event_id_twice_changes_nothing_the_second_time(db, capsys):
    # Given a payment failure that was applied
    investor = make_investor()
    put_on_plan(investor, "pro")
    failure = payment_event("invoice.payment_failed", investor.user_id, event_id="evt_failed_1")
    assert deliver(failure).status == 200
    # And the user paid afterwards
    assert deliver(payment_event("invoice.paid", investor.user_id)).status == 200
    count_metrics_from_here(capsys)
    # When the provider delivers the failure again
    reply = deliver(failure)
    # Then it is acknowledged, counted as a duplicate, and the subscription stays ACTIVE
    assert reply.status == 200
    assert _subscription(investor)["status"] == "ACTIVE"
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.get("WebhooksDuplicate") == 1
    assert "WebhooksApplied" not in metrics
    with unit_of_work() as session:
        assert session.get(PaymentEvent, "evt_failed_1").outcome == "applied"


def test_unknown_event_types_are_acknowledged_and_stored_but_not_applied(db, capsys):
    investor = make_investor()
    body = json.dumps({"id": "evt_refund_1", "type": "charge.refunded", "data": {"amount": 2900}})
    count_metrics_from_here(capsys)
    assert deliver(body).status == 200
    assert _subscription(investor)["status"] == "ACTIVE"
    assert emitted_metrics(capsys.readouterr().out).get("WebhooksIgnored") == 1
    with unit_of_work() as session:
        stored = session.get(PaymentEvent, "evt_refund_1")
        assert (stored.type, stored.outcome) == ("charge.refunded", "ignored")


def test_events_about_unknown_users_are_acknowledged_and_ignored(db):
    body = payment_event("invoice.paid", "00000000-0000-4000-8000-000000000000", event_id="evt_nobody")
    assert deliver(body).status == 200
    with unit_of_work() as session:
        assert session.get(PaymentEvent, "evt_nobody").outcome == "ignored"


@pytest.mark.parametrize(
    ("case", "header"),
    [
        ("wrong secret", lambda body: signature(body, secret="not-the-providers-secret-0123456789abcdef")),
        ("stale", lambda body: signature(body, at=time.time() - 301)),
        ("from the future", lambda body: signature(body, at=time.time() + 301)),
        ("missing header", lambda body: None),
        ("empty header", lambda body: ""),
        ("no v1", lambda body: f"t={int(time.time())}"),
        ("no timestamp", lambda body: signature(body).split(",", 1)[1]),
        ("garbage", lambda body: "t=abc,v1=zz"),
        ("non-ASCII digits", lambda body: "t=\u00b2\u00b3,v1=00"),
        ("endless timestamp", lambda body: f"t={'9' * 5000},v1=00"),
        ("two timestamps", lambda body: f"t=1,{signature(body)}"),
        ("tampered body", lambda body: signature(body.replace("payment_failed", "paid"))),
    ],
)
def test_badly_signed_events_are_rejected_and_change_nothing(db, capsys, case, header):
    # Given a pro user, and a payment-failure event for them
    investor = make_investor()
    put_on_plan(investor, "pro")
    body = payment_event("invoice.payment_failed", investor.user_id, event_id=f"evt_bad_{case}")
    count_metrics_from_here(capsys)
    # When it arrives with a bad signature
    reply = deliver(body, header(body))
    # Then it is refused with 401, nothing is stored or applied, and the refusal is counted
    assert reply.status == 401, case
    assert reply.error_code == "WEBHOOK_SIGNATURE_INVALID"
    assert "WWW-Authenticate" not in reply.headers
    assert _subscription(investor)["status"] == "ACTIVE"
    with unit_of_work() as session:
        assert session.get(PaymentEvent, f"evt_bad_{case}") is None
    assert emitted_metrics(capsys.readouterr().out).get("WebhooksRejected") == 1


def test_a_signature_within_the_tolerance_is_accepted(db):
    investor = make_investor()
    body = payment_event("invoice.payment_failed", investor.user_id)
    assert deliver(body, signature(body, at=time.time() - 290)).status == 200
    assert _subscription(investor)["status"] == "PAST_DUE"


def test_a_signed_body_that_is_not_an_event_is_a_client_error(db):
    assert deliver("{not json").error_code == "MALFORMED_JSON"
    reply = deliver(json.dumps({"id": "evt_x", "type": "invoice.paid", "data": {"user_id": "nope"}}))
    assert reply.status == 422
    assert reply.error_code == "VALIDATION_ERROR"
    assert reply.json["error"]["details"][0]["field"] == "data.user_id"


def test_invoice_paid_for_an_unknown_plan_is_refused_so_the_provider_retries(db):
    investor = make_investor()
    body = payment_event("invoice.paid", investor.user_id, event_id="evt_platinum", plan="platinum")
    reply = deliver(body)
    assert reply.status == 404
    assert reply.error_code == "PLAN_NOT_FOUND"
    with unit_of_work() as session:
        assert session.get(PaymentEvent, "evt_platinum") is None


def test_the_webhook_is_not_rate_limited(db):
    investor = make_investor()
    reply = deliver(payment_event("invoice.paid", investor.user_id))
    assert reply.status == 200
    assert "RateLimit-Limit" not in reply.headers
