"""Billing under real concurrency, on PostgreSQL and MariaDB: each thread is a Lambda container with a
unit of work of its own, and all of them start together."""

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from billing_support import payment_event, put_on_plan
from signal_support import buy_body, make_investor
from sqlalchemy import func, select

from investment_system.db import engine as db_engine
from investment_system.db.engine import unit_of_work
from investment_system.errors import AppError
from investment_system.http.idempotency import idempotent_response
from investment_system.models import AuditEvent, DailyUsage, PaymentEvent, Signal
from investment_system.schemas.billing import ChangePlanRequest
from investment_system.schemas.billing import PaymentEvent as EventBody
from investment_system.schemas.signals import SignalCreate
from investment_system.services.signals import create_signal_within_quota
from investment_system.services.subscriptions import change_plan
from investment_system.services.usage import consume_daily_signal_quota
from investment_system.services.webhooks import receive_payment_event


@pytest.fixture
def pooled(server_db) -> Iterator[Any]:
    """The server database behind an engine with a connection for each of up to 50 threads."""
    engine = server_db.make_engine(pool_size=25)
    db_engine.use_engine(engine)
    yield server_db
    db_engine.use_engine(server_db.engine)
    engine.dispose()


def race(workers: int, attempt: Callable[[], Any]) -> list[Any]:
    """Run `attempt` in `workers` threads released at the same instant; each result, or the AppError it raised."""
    start = threading.Barrier(workers)

    def run(_: int) -> Any:
        start.wait()
        try:
            return attempt()
        except AppError as error:
            return error

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, range(workers)))


def _count(model, *conditions) -> int:
    with unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*conditions)))


def test_fifty_parallel_quota_claims_with_ten_left_admit_exactly_ten(pooled):
    # Given a free user (10 signals a day) who has created none today
    investor = make_investor()

    def claim() -> str:
        with unit_of_work() as session:
            consume_daily_signal_quota(session, investor.user_id)
        return "counted"

    # When 50 claims race
    outcomes = race(50, claim)
    # Then exactly 10 are counted, the other 40 refused with QUOTA_EXCEEDED, and the counter says 10
    assert outcomes.count("counted") == 10
    refused = [outcome for outcome in outcomes if isinstance(outcome, AppError)]
    assert len(refused) == 40
    assert {error.code.value for error in refused} == {"QUOTA_EXCEEDED"}
    with unit_of_work() as session:
        assert session.scalar(select(DailyUsage.signals_created).where(DailyUsage.user_id == investor.user_id)) == 10


def test_fifty_parallel_signal_creates_with_ten_left_create_exactly_ten(pooled):
    # Given a free user (10 signals a day) with all 10 left, and the creation path of POST /v1/signals
    investor = make_investor()
    body = SignalCreate.model_validate(buy_body())

    def create() -> str:
        with unit_of_work() as session:
            return str(create_signal_within_quota(session, investor.user_id, body).id)

    # When 50 creates race
    outcomes = race(50, create)
    # Then exactly 10 signals exist and the other 40 requests were refused with QUOTA_EXCEEDED
    created = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert len(set(created)) == 10
    assert _count(Signal, Signal.user_id == investor.user_id) == 10
    assert Counter(outcome.code.value for outcome in outcomes if isinstance(outcome, AppError)) == {
        "QUOTA_EXCEEDED": 40
    }


def test_twenty_identical_idempotent_signal_creates_make_one_signal(pooled):
    # Given a pro user, and one POST /v1/signals body with one Idempotency-Key
    investor = make_investor()
    put_on_plan(investor, "pro")
    body = SignalCreate.model_validate(buy_body())

    def create(session):
        time.sleep(0.2)  # the others arrive while this one still runs
        return create_signal_within_quota(session, investor.user_id, body)

    # When 20 identical requests race
    replies = race(20, lambda: idempotent_response(investor.user_id, "signal-once", body, 201, create))
    # Then one signal exists, and every success carries its id
    assert _count(Signal, Signal.user_id == investor.user_id) == 1
    ids = {reply.body["id"] for reply in replies if not isinstance(reply, AppError)}
    assert len(ids) == 1
    assert {reply.code.value for reply in replies if isinstance(reply, AppError)} <= {"IDEMPOTENCY_IN_PROGRESS"}


def test_twenty_identical_idempotent_plan_changes_have_exactly_one_effect(pooled):
    # Given a free user, and a plan change that takes a moment
    investor = make_investor()
    request = ChangePlanRequest(plan="pro")

    def slow_change(session):
        time.sleep(0.2)  # the others arrive while this one still runs
        return change_plan(session, investor.user_id, request.plan)

    # When 20 identical requests with one Idempotency-Key race
    replies = race(20, lambda: idempotent_response(investor.user_id, "upgrade-once", request, 200, slow_change))
    # Then the plan changed once: one audit row
    assert _count(AuditEvent, AuditEvent.action == "plan_changed", AuditEvent.actor_id == investor.user_id) == 1
    # And every request got the first response (original or replayed) or 409 while it was running
    outcomes = Counter(
        reply.code.value
        if isinstance(reply, AppError)
        else ("replayed" if reply.headers.get("Idempotent-Replayed") == "true" else "original")
        for reply in replies
    )
    assert outcomes["original"] == 1
    assert set(outcomes) <= {"original", "replayed", "IDEMPOTENCY_IN_PROGRESS"}
    bodies = [reply.body for reply in replies if not isinstance(reply, AppError)]
    assert all(body["plan"]["code"] == "pro" for body in bodies)


def test_a_payment_event_delivered_ten_times_at_once_is_applied_once(pooled):
    # Given a pro user and a payment-failure event
    investor = make_investor()
    put_on_plan(investor, "pro")
    body = payment_event("invoice.payment_failed", investor.user_id, event_id="evt_racing")

    # When the provider delivers it 10 times at the same instant
    replies = race(10, lambda: receive_payment_event(EventBody.model_validate_json(body)))
    # Then every delivery is acknowledged, the event is stored once and applied once
    assert all(not isinstance(reply, AppError) and reply.received for reply in replies)
    assert _count(PaymentEvent, PaymentEvent.id == "evt_racing") == 1
    assert _count(AuditEvent, AuditEvent.action == "payment_failed") == 1
