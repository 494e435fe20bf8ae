"""POST /v1/billing/webhooks/payments through its handler: signatures, transitions, duplicates."""

import json
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from investment_system.db.engine import unit_of_work
from investment_system.models import Checkout, PaymentEvent
from tests.support.billing import (
    CHANGE_PLAN,
    SUBSCRIPTION,
    call,
    count_metrics_from_here,
    deliver,
    emitted_metrics,
    paying,
    payment_event,
    put_on_plan,
    signature,
)
from tests.support.signals import make_investor


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
    assert reply.json == {"received": True, "applied": True}
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
    # Then it is acknowledged as the first delivery was (applied), counted as a duplicate, and the
    # subscription stays ACTIVE
    assert (reply.status, reply.json) == (200, {"received": True, "applied": True})
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
    reply = deliver(body)
    assert (reply.status, reply.json) == (200, {"received": True, "applied": False})
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
        ("from the future", lambda body: signature(body, at=time.time() + 330)),  # past any second boundary crossed
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


def _checkout_status(checkout_id: str) -> str:
    with unit_of_work() as session:
        return session.get(Checkout, uuid.UUID(checkout_id)).status


def test_a_checkout_paid_in_full_is_applied_and_says_so(db, capsys):
    # Given a free user with a checkout for pro
    investor = make_investor()
    checkout = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}).json["checkout"]
    count_metrics_from_here(capsys)
    # When the provider reports it paid: its amount, in its currency
    reply = deliver(payment_event("invoice.paid", investor.user_id, **paying(checkout)))
    # Then the event is applied and says so: the user is on pro and the checkout is completed
    assert (reply.status, reply.json) == (200, {"received": True, "applied": True})
    subscription = _subscription(investor)
    assert (subscription["plan"]["code"], subscription["status"], subscription["pending_checkout"]) == (
        "pro",
        "ACTIVE",
        None,
    )
    assert _checkout_status(checkout["id"]) == "COMPLETED"
    assert "PaymentsMismatched" not in emitted_metrics(capsys.readouterr().out)


def test_a_currency_code_in_lower_case_is_the_same_currency(db):
    # Given a checkout for pro, in USD
    investor = make_investor()
    checkout = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}).json["checkout"]
    # When the provider reports it paid in "usd" (as some providers write ISO 4217 codes)
    reply = deliver(payment_event("invoice.paid", investor.user_id, **{**paying(checkout), "currency": "usd"}))
    # Then it is the checkout's currency: applied
    assert reply.json == {"received": True, "applied": True}
    assert _subscription(investor)["plan"]["code"] == "pro"


MISMATCHES = {
    "too little": (lambda checkout: {**paying(checkout), "amount_cents": 1}, "amount differs"),
    "too much": (lambda checkout: {**paying(checkout), "amount_cents": 2_147_483_647}, "amount differs"),
    "other currency": (lambda checkout: {**paying(checkout), "currency": "JPY"}, "currency differs"),
    "other plan": (lambda checkout: {**paying(checkout), "plan": "enterprise"}, "plan differs"),
    "no amount": (
        lambda checkout: {k: v for k, v in paying(checkout).items() if k != "amount_cents"},
        "amount or currency missing",
    ),
    "no currency": (
        lambda checkout: {k: v for k, v in paying(checkout).items() if k != "currency"},
        "amount or currency missing",
    ),
    "unknown checkout": (lambda checkout: {**paying(checkout), "checkout_id": str(uuid.uuid4())}, "unknown checkout"),
}


@pytest.mark.parametrize("case", MISMATCHES)
def test_a_payment_that_does_not_match_its_checkout_is_acknowledged_not_applied(db, capsys, json_logs, case):
    # Given a free user with a checkout for pro
    investor = make_investor()
    checkout = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}).json["checkout"]
    before = _subscription(investor)
    data, reason = MISMATCHES[case]
    body = payment_event("invoice.paid", investor.user_id, event_id=f"evt_mismatch_{case}", **data(checkout))
    count_metrics_from_here(capsys)
    # When the provider reports a payment naming the checkout that is not what the checkout asked for
    reply = deliver(body)
    # Then it is acknowledged and not applied: the subscription and the checkout are as they were
    assert (reply.status, reply.json) == (200, {"received": True, "applied": False}), case
    assert _subscription(investor) == before
    assert _checkout_status(checkout["id"]) == "PENDING"
    # And it is counted (the metric an alarm watches) and logged as a warning, with the reason
    assert emitted_metrics(capsys.readouterr().out).get("PaymentsMismatched") == 1
    warnings = [line for line in json_logs() if line["level"] == "WARNING"]
    assert [(line["message"], line["reason"]) for line in warnings] == [
        ("Payment does not match the checkout it names; not applied", reason)
    ]
    assert warnings[0]["event_id"] == f"evt_mismatch_{case}"
    # And the event is recorded as processed, mismatched: a redelivery changes nothing either
    with unit_of_work() as session:
        assert session.get(PaymentEvent, f"evt_mismatch_{case}").outcome == "mismatched"
    assert deliver(body).json == {"received": True, "applied": False}
    assert _subscription(investor) == before
    assert _checkout_status(checkout["id"]) == "PENDING"


def test_a_checkout_of_another_user_is_not_paid_for_by_them(db):
    # Given two free users, the second with a checkout for pro
    payer, owner = make_investor("payer"), make_investor("owner")
    checkout = call(CHANGE_PLAN, owner, json_body={"plan": "pro"}).json["checkout"]
    # When a payment for the first user names the second's checkout, in full
    reply = deliver(payment_event("invoice.paid", payer.user_id, **paying(checkout)))
    # Then nothing is applied: neither user changes plan, the checkout stays pending
    assert reply.json == {"received": True, "applied": False}
    assert _subscription(payer)["plan"]["code"] == "free"
    assert _subscription(owner)["pending_checkout"] == checkout
    assert _checkout_status(checkout["id"]) == "PENDING"


def _period_end(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


@pytest.mark.parametrize(
    ("case", "period_end"),
    [
        ("past", lambda: _period_end(seconds=-1)),
        ("over 400 days away", lambda: _period_end(days=400, minutes=1)),
        ("range edge, west of UTC", lambda: "9999-12-31T23:59:59-01:00"),
        ("range edge, east of UTC", lambda: "0001-01-01T00:00:00+01:00"),
        ("largest date", lambda: "9999-12-31T23:59:59.999999Z"),
        ("Unix seconds", lambda: int((datetime.now(UTC) + timedelta(days=30)).timestamp())),
    ],
)
def test_a_period_end_not_in_the_next_400_days_is_a_validation_error(db, case, period_end):
    # Given a free user, and an invoice.paid whose period ends out of bounds
    investor = make_investor()
    body = payment_event("invoice.paid", investor.user_id, event_id="evt_period", plan="pro", period_end=period_end())
    # When the provider delivers it
    reply = deliver(body)
    # Then it is refused as invalid (the provider's retry will not fix it, an operator will), and nothing stored
    assert (reply.status, reply.error_code) == (422, "VALIDATION_ERROR"), case
    assert [detail["field"] for detail in reply.json["error"]["details"]] == ["data.period_end"]
    assert _subscription(investor)["plan"]["code"] == "free"
    with unit_of_work() as session:
        assert session.get(PaymentEvent, "evt_period") is None


def test_a_period_end_up_to_400_days_away_is_applied(db):
    # Given an invoice.paid whose period ends 400 days from now, less a minute, in another offset
    investor = make_investor()
    period_end = (datetime.now(UTC) + timedelta(days=400, minutes=-1)).replace(microsecond=0)
    offset = period_end.astimezone(timezone(timedelta(hours=-5))).isoformat()
    # When the provider delivers it
    reply = deliver(payment_event("invoice.paid", investor.user_id, plan="pro", period_end=offset))
    # Then it is applied, the period ending then (in UTC)
    assert reply.json == {"received": True, "applied": True}
    assert _subscription(investor)["current_period_end"] == period_end.strftime("%Y-%m-%dT%H:%M:%SZ")
