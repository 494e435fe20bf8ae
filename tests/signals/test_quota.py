"""POST /v1/signals against the plan's daily quota and with Idempotency-Key, through the handler."""

from sqlalchemy import func, select

from investment_system.db.engine import unit_of_work
from investment_system.models import Signal
from tests.support.billing import USAGE, count_metrics_from_here, emitted_metrics, put_on_plan
from tests.support.signals import CREATE, LIST, buy_body, call, make_investor


def _signals_of(investor) -> int:
    with unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(Signal).where(Signal.user_id == investor.user_id)))


def test_a_free_user_creates_ten_signals_a_day_then_gets_429_until_midnight(db, capsys):
    # Given a free user who created 10 signals today
    investor = make_investor()
    assert {call(CREATE, investor, json_body=buy_body()).status for _ in range(10)} == {201}
    count_metrics_from_here(capsys)
    # When they try an 11th
    refused = call(CREATE, investor, json_body=buy_body())
    # Then it is refused with QUOTA_EXCEEDED and Retry-After up to the next UTC midnight, and counted
    assert refused.status == 429
    assert refused.error_code == "QUOTA_EXCEEDED"
    assert 1 <= int(refused.headers["Retry-After"]) <= 86_400
    assert emitted_metrics(capsys.readouterr().out).get("QuotaExceeded") == 1
    # And no 11th signal exists; usage says 10 of 10
    assert _signals_of(investor) == 10
    usage = call(USAGE, investor).json
    assert (usage["signals_created"], usage["signals_per_day"]) == (10, 10)


def test_upgrading_raises_the_daily_quota(db):
    investor = make_investor()
    for _ in range(10):
        call(CREATE, investor, json_body=buy_body())
    put_on_plan(investor, "pro")
    assert call(CREATE, investor, json_body=buy_body()).status == 201


def test_a_refused_signal_does_not_use_the_quota(db):
    # Given a request with inconsistent levels
    investor = make_investor()
    assert call(CREATE, investor, json_body=buy_body(target_price="100")).error_code == "INVALID_SIGNAL_LEVELS"
    # Then today's usage is untouched
    assert call(USAGE, investor).json["signals_created"] == 0


def test_the_same_idempotency_key_creates_one_signal_and_replays_it(db):
    # Given a signal created with an Idempotency-Key
    investor = make_investor()
    key = {"Idempotency-Key": "signal-2026-11-26-aapl"}
    first = call(CREATE, investor, json_body=buy_body(), headers=key)
    assert first.status == 201
    # When the client retries (e.g. after a timeout), with the body in another key order and number form
    retry = call(CREATE, investor, json_body=dict(reversed(buy_body(entry_price=187.25).items())), headers=key)
    # Then the first response is replayed: same signal, 201, Idempotent-Replayed, one signal, one quota unit
    assert retry.status == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json == first.json
    assert _signals_of(investor) == 1
    assert call(USAGE, investor).json["signals_created"] == 1
    assert [item["id"] for item in call(LIST, investor).json["items"]] == [first.json["id"]]


def test_the_same_key_for_another_signal_is_422(db):
    investor = make_investor()
    key = {"Idempotency-Key": "one-key"}
    assert call(CREATE, investor, json_body=buy_body(), headers=key).status == 201
    reply = call(CREATE, investor, json_body=buy_body(symbol="MSFT"), headers=key)
    assert reply.status == 422
    assert reply.error_code == "IDEMPOTENCY_KEY_REUSED"
    assert _signals_of(investor) == 1


def test_a_key_used_on_the_subscription_cannot_create_a_signal(db):
    investor = make_investor()
    key = {"Idempotency-Key": "shared-between-routes"}
    assert (
        call(
            ("ChangePlanFunction", "PUT", "/v1/billing/subscription"), investor, json_body={"plan": "pro"}, headers=key
        ).status
        == 202
    )
    assert call(CREATE, investor, json_body=buy_body(), headers=key).error_code == "IDEMPOTENCY_KEY_REUSED"
