"""The billing routes through their functions' handlers, on every database backend."""

from datetime import UTC, datetime, timedelta

from billing_support import (
    CANCEL,
    CHANGE_PLAN,
    PLANS,
    SUBSCRIPTION,
    USAGE,
    call,
    count_metrics_from_here,
    emitted_metrics,
    put_on_plan,
)
from signal_support import make_investor
from sqlalchemy import select

from investment_system.db.engine import unit_of_work
from investment_system.models import AuditEvent, Subscription
from investment_system.services.usage import consume_daily_signal_quota


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


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
    # Then it is free and ACTIVE, for a month from now
    assert reply.status == 200
    assert reply.json["plan"]["code"] == "free"
    assert reply.json["status"] == "ACTIVE"
    assert reply.json["cancel_at_period_end"] is False
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


def test_changing_plan_switches_quotas_and_is_audited(db, capsys):
    # Given a free user
    investor = make_investor()
    count_metrics_from_here(capsys)
    # When they switch to pro
    reply = call(CHANGE_PLAN, investor, json_body={"plan": "pro"})
    # Then the subscription is on pro, ACTIVE, and their usage shows pro's quotas
    assert reply.status == 200
    assert reply.json["plan"]["code"] == "pro"
    assert reply.json["status"] == "ACTIVE"
    usage = call(USAGE, investor).json
    assert (usage["signals_per_day"], usage["requests_per_minute"]) == (500, 600)
    # And the change is counted and has an audit row with the caller as actor
    assert emitted_metrics(capsys.readouterr().out).get("PlanChanged") == 1
    with unit_of_work() as session:
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "plan_changed")).one()
        assert audit.actor_id == investor.user_id
        assert audit.changes["plan"] == {"from": "free", "to": "pro"}


def test_changing_to_an_unknown_plan_is_404_and_changes_nothing(db):
    investor = make_investor()
    reply = call(CHANGE_PLAN, investor, json_body={"plan": "platinum"})
    assert reply.status == 404
    assert reply.error_code == "PLAN_NOT_FOUND"
    assert call(SUBSCRIPTION, investor).json["plan"]["code"] == "free"


def test_change_plan_refuses_unknown_fields_and_missing_plan(db):
    investor = make_investor()
    reply = call(CHANGE_PLAN, investor, json_body={"plan": "pro", "price_cents": 0})
    assert reply.status == 422
    assert reply.error_code == "VALIDATION_ERROR"
    assert call(CHANGE_PLAN, investor, json_body={}).status == 422
    assert call(CHANGE_PLAN, investor, body="{not json").error_code == "MALFORMED_JSON"


def test_cancel_keeps_the_plan_until_the_period_ends_then_falls_back_to_free(db):
    # Given a pro user
    investor = make_investor()
    put_on_plan(investor, "pro")
    # When they cancel
    reply = call(CANCEL, investor)
    # Then the subscription stays pro and ACTIVE, flagged to cancel at the period's end
    assert reply.status == 200
    assert reply.json["cancel_at_period_end"] is True
    assert reply.json["plan"]["code"] == "pro"
    assert reply.json["status"] == "ACTIVE"
    # And cancelling again is harmless
    assert call(CANCEL, investor).json == reply.json
    # When the period is over
    with unit_of_work() as session:
        subscription = session.scalars(select(Subscription).where(Subscription.user_id == investor.user_id)).one()
        subscription.current_period_end = datetime.now(UTC) - timedelta(seconds=1)
    # Then the user is CANCELED, on free, with free's quotas
    after = call(SUBSCRIPTION, investor).json
    assert (after["status"], after["plan"]["code"], after["cancel_at_period_end"]) == ("CANCELED", "free", False)
    assert call(USAGE, investor).json["signals_per_day"] == 10


def test_choosing_a_plan_again_withdraws_a_pending_cancellation(db):
    investor = make_investor()
    put_on_plan(investor, "pro")
    call(CANCEL, investor)
    reply = call(CHANGE_PLAN, investor, json_body={"plan": "pro"})
    assert reply.status == 200
    assert reply.json["cancel_at_period_end"] is False
    assert reply.json["plan"]["code"] == "pro"


def test_usage_counts_todays_signals_against_the_plan(db):
    # Given a free user who created 3 signals today
    investor = make_investor()
    for _ in range(3):
        with unit_of_work() as session:
            consume_daily_signal_quota(session, investor.user_id)
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
    # Given a free user who switched to pro with a key
    investor = make_investor()
    key = {"Idempotency-Key": "upgrade-2026-11-26"}
    first = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}, headers=key)
    assert first.status == 200
    assert "Idempotent-Replayed" not in first.headers
    # And then moved on to enterprise without a key
    call(CHANGE_PLAN, investor, json_body={"plan": "enterprise"})
    count_metrics_from_here(capsys)
    # When the first request is sent again with its key
    again = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}, headers=key)
    # Then the first response is replayed and the plan is not touched
    assert again.status == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert call(SUBSCRIPTION, investor).json["plan"]["code"] == "enterprise"
    assert emitted_metrics(capsys.readouterr().out).get("IdempotentReplays") == 1


def test_same_idempotency_key_with_another_body_is_422(db):
    investor = make_investor()
    key = {"Idempotency-Key": "k-1"}
    assert call(CHANGE_PLAN, investor, json_body={"plan": "pro"}, headers=key).status == 200
    reply = call(CHANGE_PLAN, investor, json_body={"plan": "enterprise"}, headers=key)
    assert reply.status == 422
    assert reply.error_code == "IDEMPOTENCY_KEY_REUSED"
    assert call(SUBSCRIPTION, investor).json["plan"]["code"] == "pro"


def test_idempotency_keys_belong_to_one_user(db):
    # Given two users sending the same key
    alice, bob = make_investor("alice"), make_investor("bob")
    key = {"Idempotency-Key": "shared-key"}
    assert call(CHANGE_PLAN, alice, json_body={"plan": "pro"}, headers=key).status == 200
    reply = call(CHANGE_PLAN, bob, json_body={"plan": "enterprise"}, headers=key)
    # Then each gets their own effect
    assert reply.status == 200
    assert "Idempotent-Replayed" not in reply.headers
    assert call(SUBSCRIPTION, bob).json["plan"]["code"] == "enterprise"


def test_a_failed_request_does_not_burn_its_idempotency_key(db):
    # Given a request with a key that failed (unknown plan)
    investor = make_investor()
    key = {"Idempotency-Key": "retry-me"}
    assert call(CHANGE_PLAN, investor, json_body={"plan": "platinum"}, headers=key).status == 404
    # When the client retries the key with a corrected body
    reply = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}, headers=key)
    # Then it runs, as the first attempt left no record
    assert reply.status == 200
    assert "Idempotent-Replayed" not in reply.headers
    assert reply.json["plan"]["code"] == "pro"


def test_idempotency_key_must_be_1_to_255_characters(db):
    investor = make_investor()
    for bad in ("", "k" * 256):
        reply = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}, headers={"Idempotency-Key": bad})
        assert reply.status == 400, len(bad)
        assert reply.error_code == "INVALID_IDEMPOTENCY_KEY"
    assert call(SUBSCRIPTION, investor).json["plan"]["code"] == "free"
    longest = call(CHANGE_PLAN, investor, json_body={"plan": "pro"}, headers={"Idempotency-Key": "k" * 255})
    assert longest.status == 200
