"""The billing routes through their functions' handlers, on every database backend."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from investment_system.db.engine import unit_of_work
from investment_system.models import AuditEvent, Subscription
from tests.support.billing import (
    CANCEL,
    CHANGE_PLAN,
    PLANS,
    SUBSCRIPTION,
    USAGE,
    call,
    count_a_signal,
    count_metrics_from_here,
    deliver,
    emitted_metrics,
    paying,
    payment_event,
    put_on_plan,
    time_passes,
)
from tests.support.signals import make_investor

DAY = timedelta(days=1)


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _quotas(investor) -> tuple[int, int]:
    usage = call(USAGE, investor).json
    return usage["signals_per_day"], usage["requests_per_minute"]


def _subscription(investor) -> dict:
    reply = call(SUBSCRIPTION, investor)
    assert reply.status == 200
    return reply.json


def _pay(investor, **data) -> None:
    assert deliver(payment_event("invoice.paid", investor.user_id, **data)).status == 200


def test_plans_are_listed_without_authentication_with_the_contract_defaults(db):
    # When anyone asks for the plans
    reply = call(PLANS)
    # Then the three plans come with the contract's prices and quotas, cheapest first
    assert reply.status == 200
    plans = {plan["code"]: plan for plan in reply.json["items"]}
    assert [plan["code"] for plan in reply.json["items"]] == ["free", "pro", "enterprise"]
    assert plans["free"]["price_cents"] == 0
    assert plans["free"]["quotas"] == {"signals_per_day": 10, "requests_per_minute": 60}
    assert plans["pro"]["price_cents"] == 2900
    assert plans["pro"]["quotas"] == {"signals_per_day": 500, "requests_per_minute": 600}
    assert plans["enterprise"]["price_cents"] == 19900
    assert plans["enterprise"]["quotas"] == {"signals_per_day": 10000, "requests_per_minute": 3000}
    assert all(plan["interval"] == "month" and plan["currency"] == "USD" for plan in plans.values())
    assert reply.headers["Cache-Control"] == "no-store"


def test_a_new_user_is_on_free_and_active(db):
    # Given a user who never touched billing
    investor = make_investor()
    # When they read their subscription
    reply = call(SUBSCRIPTION, investor)
    # Then it is free and ACTIVE, for a month from now, with nothing scheduled or pending
    assert reply.status == 200
    assert reply.json["plan"]["code"] == "free"
    assert reply.json["status"] == "ACTIVE"
    assert reply.json["cancel_at_period_end"] is False
    assert (reply.json["scheduled_change"], reply.json["pending_checkout"]) == (None, None)
    start, end = _iso(reply.json["current_period_start"]), _iso(reply.json["current_period_end"])
    assert abs(start - datetime.now(UTC)) < timedelta(minutes=1)
    assert timedelta(days=28) <= end - start <= timedelta(days=31)
    # And reading it again finds the same subscription, not a second one
    assert call(SUBSCRIPTION, investor).json == reply.json
    with unit_of_work() as session:
        assert len(session.scalars(select(Subscription).where(Subscription.user_id == investor.user_id)).all()) == 1


def test_billing_routes_need_a_bearer_token(db):
    for route in (SUBSCRIPTION, CANCEL, USAGE):
        reply = call(route)
        assert reply.status == 401, route
        assert reply.error_code == "AUTHENTICATION_REQUIRED"
    assert call(CHANGE_PLAN, json_body={"plan": "pro"}).status == 401


def test_an_upgrade_starts_a_checkout_and_changes_nothing_else(db, capsys):
    # Given a free user
    investor = make_investor()
    before = _subscription(investor)
    count_metrics_from_here(capsys)
    # When they ask for pro
    reply = call(CHANGE_PLAN, investor, json_body={"plan": "pro"})
    # Then they get 202 with a pending checkout at pro's price, for 24 hours
    assert reply.status == 202
    checkout = reply.json["checkout"]
    assert {key: checkout[key] for key in ("plan", "amount_cents", "currency", "status")} == {
        "plan": "pro",
        "amount_cents": 2900,
        "currency": "USD",
        "status": "PENDING",
    }
    assert abs(_iso(checkout["expires_at"]) - (datetime.now(UTC) + DAY)) < timedelta(minutes=1)
    # And the subscription, quotas and limits are as they were, the checkout pending
    assert reply.json["subscription"] == {**before, "pending_checkout": checkout}
    assert _subscription(investor) == {**before, "pending_checkout": checkout}
    assert _quotas(investor) == (10, 60)
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.get("CheckoutsCreated") == 1
    assert "PlanChanged" not in metrics


def test_paying_the_checkout_switches_plan_and_quotas_and_is_audited(db, capsys):
    # Given a free user with a pending checkout for pro
    investor = make_investor()
    checkout = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}).json["checkout"]
    count_metrics_from_here(capsys)
    # When the provider reports the checkout paid
    period_end = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    _pay(investor, **paying(checkout), period_end=period_end.isoformat())
    # Then the user is ACTIVE on pro for the period paid, with pro's quotas, and nothing pending
    subscription = _subscription(investor)
    assert (subscription["plan"]["code"], subscription["status"], subscription["pending_checkout"]) == (
        "pro",
        "ACTIVE",
        None,
    )
    assert _iso(subscription["current_period_end"]) == period_end
    assert _quotas(investor) == (500, 600)
    # And the completion and the change are counted, and audited with no actor (the provider)
    metrics = emitted_metrics(capsys.readouterr().out)
    assert (metrics.get("CheckoutsCompleted"), metrics.get("PlanChanged")) == (1, 1)
    assert "PaymentsWithoutCheckout" not in metrics
    with unit_of_work() as session:
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "payment_succeeded")).one()
        assert audit.actor_id is None
        assert audit.changes["plan"] == {"from": "free", "to": "pro"}


def test_a_newer_checkout_replaces_the_pending_one(db):
    # Given a checkout for pro, then one for enterprise
    investor = make_investor()
    first = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}).json["checkout"]
    second = call(CHANGE_PLAN, investor, json_body={"plan": "enterprise"}).json["checkout"]
    # Then only the second is pending
    assert second["id"] != first["id"]
    assert _subscription(investor)["pending_checkout"] == second
    # And a payment naming the first cannot complete it: the plan stays free
    _pay(investor, **paying(first))
    assert (_subscription(investor)["plan"]["code"], _quotas(investor)) == ("free", (10, 60))
    assert _subscription(investor)["pending_checkout"] == second
    # While the second's completes it
    _pay(investor, **paying(second))
    assert (_subscription(investor)["plan"]["code"], _quotas(investor)) == ("enterprise", (10000, 3000))


def test_an_expired_checkout_is_not_pending_and_cannot_be_completed(db):
    # Given a checkout for pro started 24 hours ago
    investor = make_investor()
    checkout = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}).json["checkout"]
    time_passes(investor.user_id, DAY)
    # Then it is no longer shown as pending
    assert _subscription(investor)["pending_checkout"] is None
    # And a payment naming it leaves the user on free
    _pay(investor, **paying(checkout))
    assert _subscription(investor)["plan"]["code"] == "free"


def test_a_payment_for_a_plan_never_checked_out_is_applied_counted_and_logged(db, capsys, json_logs):
    # Given a free user who started no checkout
    investor = make_investor()
    count_metrics_from_here(capsys)
    # When the provider reports a payment for enterprise
    _pay(investor, plan="enterprise")
    # Then the provider is believed: the user is on enterprise
    assert (_subscription(investor)["plan"]["code"], _quotas(investor)) == ("enterprise", (10000, 3000))
    # And it is counted and logged as a warning
    assert emitted_metrics(capsys.readouterr().out).get("PaymentsWithoutCheckout") == 1
    warnings = [line for line in json_logs() if line["level"] == "WARNING"]
    assert [line["message"] for line in warnings] == ["Payment for a plan the user did not check out; applied"]
    assert (warnings[0]["plan"], warnings[0]["current_plan"]) == ("enterprise", "free")


def test_a_downgrade_is_scheduled_for_the_period_end_and_then_in_force(db, capsys):
    # Given a pro user
    investor = make_investor()
    put_on_plan(investor, "pro")
    period_end = _subscription(investor)["current_period_end"]
    # When they ask for free
    reply = call(CHANGE_PLAN, investor, json_body={"plan": "free"})
    # Then it is scheduled for the period's end, and pro and its quotas hold until then
    assert reply.status == 200
    assert reply.json["scheduled_change"] == {"plan": "free", "effective_at": period_end}
    assert (reply.json["plan"]["code"], reply.json["status"]) == ("pro", "ACTIVE")
    assert _quotas(investor) == (500, 600)
    count_metrics_from_here(capsys)
    # When the period is over, before any scheduled run
    time_passes(investor.user_id, timedelta(days=31))
    # Then the quotas are free's at once, and the subscription reads free, with nothing pending
    assert _quotas(investor) == (10, 60)
    after = _subscription(investor)
    assert (after["plan"]["code"], after["status"], after["scheduled_change"]) == ("free", "ACTIVE", None)
    # And the new period starts where the paid one ended
    assert _iso(after["current_period_start"]) == _iso(period_end) - timedelta(days=31)
    assert emitted_metrics(capsys.readouterr().out).get("DowngradesApplied") == 1


def test_a_downgrade_to_a_cheaper_paid_plan(db):
    investor = make_investor()
    put_on_plan(investor, "enterprise")
    assert call(CHANGE_PLAN, investor, json_body={"plan": "pro"}).json["scheduled_change"]["plan"] == "pro"
    time_passes(investor.user_id, timedelta(days=31))
    assert (_subscription(investor)["plan"]["code"], _quotas(investor)) == ("pro", (500, 600))


def test_choosing_the_current_plan_drops_a_scheduled_change_or_a_cancellation(db):
    investor = make_investor()
    put_on_plan(investor, "pro")
    call(CHANGE_PLAN, investor, json_body={"plan": "free"})
    reply = call(CHANGE_PLAN, investor, json_body={"plan": "pro"})
    assert reply.status == 200
    assert (reply.json["scheduled_change"], reply.json["cancel_at_period_end"]) == (None, False)
    call(CANCEL, investor)
    reply = call(CHANGE_PLAN, investor, json_body={"plan": "pro"})
    assert (reply.status, reply.json["cancel_at_period_end"], reply.json["plan"]["code"]) == (200, False, "pro")
    time_passes(investor.user_id, timedelta(days=31))
    assert _subscription(investor)["plan"]["code"] == "pro"


def test_cancel_keeps_the_plan_until_the_period_ends_then_falls_back_to_free(db):
    # Given a pro user with a downgrade to free scheduled
    investor = make_investor()
    put_on_plan(investor, "pro")
    call(CHANGE_PLAN, investor, json_body={"plan": "free"})
    # When they cancel
    reply = call(CANCEL, investor)
    # Then the subscription stays pro and ACTIVE, flagged to cancel at the period's end, instead of the downgrade
    assert reply.status == 200
    assert (reply.json["cancel_at_period_end"], reply.json["scheduled_change"]) == (True, None)
    assert (reply.json["plan"]["code"], reply.json["status"]) == ("pro", "ACTIVE")
    # And cancelling again is harmless
    assert call(CANCEL, investor).json == reply.json
    # When the period is over
    time_passes(investor.user_id, timedelta(days=31))
    # Then the user is CANCELED, on free, with free's quotas
    after = _subscription(investor)
    assert (after["status"], after["plan"]["code"], after["cancel_at_period_end"]) == ("CANCELED", "free", False)
    assert _quotas(investor) == (10, 60)


def test_past_due_keeps_the_plan_for_the_grace_period_then_returns_to_free(db, capsys):
    # Given a pro user whose renewal failed
    investor = make_investor()
    put_on_plan(investor, "pro")
    assert deliver(payment_event("invoice.payment_failed", investor.user_id)).status == 200
    # Then for the 7 days of grace they are PAST_DUE with pro's quotas
    time_passes(investor.user_id, timedelta(days=6, hours=23))
    assert (_subscription(investor)["status"], _quotas(investor)) == ("PAST_DUE", (500, 600))
    count_metrics_from_here(capsys)
    # And after them, on free, CANCELED
    time_passes(investor.user_id, timedelta(hours=2))
    assert _quotas(investor) == (10, 60)
    after = _subscription(investor)
    assert (after["status"], after["plan"]["code"]) == ("CANCELED", "free")
    assert emitted_metrics(capsys.readouterr().out).get("DunningDowngrades") == 1


def test_a_payment_within_the_grace_period_ends_it(db):
    investor = make_investor()
    put_on_plan(investor, "pro")
    deliver(payment_event("invoice.payment_failed", investor.user_id))
    time_passes(investor.user_id, timedelta(days=3))
    _pay(investor)
    time_passes(investor.user_id, timedelta(days=10))
    assert (_subscription(investor)["status"], _quotas(investor)) == ("ACTIVE", (500, 600))


def test_changing_to_an_unknown_plan_is_404_and_changes_nothing(db):
    investor = make_investor()
    reply = call(CHANGE_PLAN, investor, json_body={"plan": "platinum"})
    assert reply.status == 404
    assert reply.error_code == "PLAN_NOT_FOUND"
    assert _subscription(investor)["plan"]["code"] == "free"


def test_change_plan_refuses_unknown_fields_and_missing_plan(db):
    investor = make_investor()
    reply = call(CHANGE_PLAN, investor, json_body={"plan": "pro", "price_cents": 0})
    assert reply.status == 422
    assert reply.error_code == "VALIDATION_ERROR"
    assert call(CHANGE_PLAN, investor, json_body={}).status == 422
    assert call(CHANGE_PLAN, investor, body="{not json").error_code == "MALFORMED_JSON"


def test_usage_counts_todays_signals_against_the_plan(db):
    # Given a free user who created 3 signals today
    investor = make_investor()
    for _ in range(3):
        count_a_signal(investor.user_id)
    # When they read their usage
    reply = call(USAGE, investor)
    # Then it covers the current UTC day and shows 3 of 10
    assert reply.status == 200
    today = datetime.now(UTC).date()
    assert _iso(reply.json["period_start"]) == datetime(today.year, today.month, today.day, tzinfo=UTC)
    assert _iso(reply.json["period_end"]) - _iso(reply.json["period_start"]) == timedelta(days=1)
    assert reply.json["signals_created"] == 3
    assert (reply.json["signals_per_day"], reply.json["requests_per_minute"]) == (10, 60)


def test_put_subscription_with_an_idempotency_key_replays_the_first_response(db, capsys):
    # Given a free user who asked for pro with a key
    investor = make_investor()
    key = {"Idempotency-Key": "upgrade-2026-11-26"}
    first = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}, headers=key)
    assert first.status == 202
    assert "Idempotent-Replayed" not in first.headers
    # And then for enterprise without a key
    newer = call(CHANGE_PLAN, investor, json_body={"plan": "enterprise"}).json["checkout"]
    count_metrics_from_here(capsys)
    # When the first request is sent again with its key
    again = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}, headers=key)
    # Then the first response is replayed, and no checkout is started
    assert again.status == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert _subscription(investor)["pending_checkout"] == newer
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.get("IdempotentReplays") == 1
    assert "CheckoutsCreated" not in metrics


def test_same_idempotency_key_with_another_body_is_422(db):
    investor = make_investor()
    key = {"Idempotency-Key": "k-1"}
    pending = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}, headers=key).json["checkout"]
    reply = call(CHANGE_PLAN, investor, json_body={"plan": "enterprise"}, headers=key)
    assert reply.status == 422
    assert reply.error_code == "IDEMPOTENCY_KEY_REUSED"
    assert _subscription(investor)["pending_checkout"] == pending


def test_idempotency_keys_belong_to_one_user(db):
    # Given two users sending the same key
    alice, bob = make_investor("alice"), make_investor("bob")
    key = {"Idempotency-Key": "shared-key"}
    assert call(CHANGE_PLAN, alice, json_body={"plan": "pro"}, headers=key).status == 202
    reply = call(CHANGE_PLAN, bob, json_body={"plan": "enterprise"}, headers=key)
    # Then each gets their own effect
    assert reply.status == 202
    assert "Idempotent-Replayed" not in reply.headers
    assert _subscription(bob)["pending_checkout"]["plan"] == "enterprise"


def test_a_failed_request_does_not_burn_its_idempotency_key(db):
    # Given a request with a key that failed (unknown plan)
    investor = make_investor()
    key = {"Idempotency-Key": "retry-me"}
    assert call(CHANGE_PLAN, investor, json_body={"plan": "platinum"}, headers=key).status == 404
    # When the client retries the key with a corrected body
    reply = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}, headers=key)
    # Then it runs, as the first attempt left no record
    assert reply.status == 202
    assert "Idempotent-Replayed" not in reply.headers
    assert reply.json["checkout"]["plan"] == "pro"


def test_idempotency_key_must_be_1_to_255_characters(db):
    investor = make_investor()
    for bad in ("", "k" * 256):
        reply = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}, headers={"Idempotency-Key": bad})
        assert reply.status == 400, len(bad)
        assert reply.error_code == "INVALID_IDEMPOTENCY_KEY"
    assert _subscription(investor)["pending_checkout"] is None
    longest = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}, headers={"Idempotency-Key": "k" * 255})
    assert longest.status == 202
