"""Billing under real concurrency, on PostgreSQL and MariaDB: each thread is a Lambda container with a
unit of work of its own, and all of them start together."""

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from investment_system.db import engine as db_engine
from investment_system.db.engine import unit_of_work
from investment_system.errors import AppError
from investment_system.http.idempotency import idempotent_response
from investment_system.models import AuditEvent, DailyUsage, PaymentEvent, Signal
from investment_system.models.checkouts import Checkout
from investment_system.schemas.billing import PaymentEvent as EventBody
from investment_system.schemas.billing import SubscriptionChange
from investment_system.schemas.signals import SignalCreate
from investment_system.services.billing.subscriptions import cancel_at_period_end, change_plan, get_subscription
from investment_system.services.billing.webhooks import receive_payment_event
from investment_system.services.signals.quota import create_signal_within_quota
from tests.support.billing import count_a_signal, paying, payment_event, put_on_plan, stored_subscription
from tests.support.signals import buy_body, make_investor


@pytest.fixture
def pooled(server_db) -> Iterator[Any]:
    """The server database behind an engine with a connection for each of up to 50 threads."""
    engine = server_db.make_engine(pool_size=25)
    db_engine.use_engine(engine)
    yield server_db
    db_engine.use_engine(server_db.engine)
    engine.dispose()


def race_all(attempts: list[Callable[[], Any]]) -> list[Any]:
    """Run each attempt in a thread of its own, all released at the same instant; each result, or the
    AppError it raised."""
    start = threading.Barrier(len(attempts))

    def run(attempt: Callable[[], Any]) -> Any:
        start.wait()
        try:
            return attempt()
        except AppError as error:
            return error

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(run, attempts))


def race(workers: int, attempt: Callable[[], Any]) -> list[Any]:
    """`attempt` in `workers` threads released at the same instant."""
    return race_all([attempt] * workers)


def _count(model, *conditions) -> int:
    with unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*conditions)))


def test_fifty_parallel_quota_claims_with_ten_left_admit_exactly_ten(pooled):
    # Given a free user (10 signals a day) who has created none today
    investor = make_investor()

    def claim() -> str:
        count_a_signal(investor.user_id)
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


@pytest.mark.parametrize("keyed", [False, True], ids=["on its own", "each with its own Idempotency-Key"])
def test_fifty_parallel_signal_creates_with_ten_left_create_exactly_ten(pooled, keyed):
    # Given a free user (10 signals a day) with all 10 left, and the creation path of POST /v1/signals:
    # on its own, or completing an Idempotency-Key's claim in the same statement (PostgreSQL)
    investor = make_investor()
    body = SignalCreate.model_validate(buy_body())

    def create() -> str:
        if not keyed:
            return str(create_signal_within_quota(None, investor.user_id, body).id)
        key = uuid.uuid4().hex
        return str(idempotent_response(key, body, 201, create_signal_within_quota, investor.user_id, body).body["id"])

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

    def slow_create(claim, user_id, data):
        time.sleep(0.2)  # the others arrive while this one still runs
        return create_signal_within_quota(claim, user_id, data)

    # When 20 identical requests race
    replies = race(20, lambda: idempotent_response("signal-once", body, 201, slow_create, investor.user_id, body))
    # Then one signal exists, and every success carries its id
    assert _count(Signal, Signal.user_id == investor.user_id) == 1
    ids = {reply.body["id"] for reply in replies if not isinstance(reply, AppError)}
    assert len(ids) == 1
    assert {reply.code.value for reply in replies if isinstance(reply, AppError)} <= {"IDEMPOTENCY_IN_PROGRESS"}


def test_twenty_identical_idempotent_plan_changes_have_exactly_one_effect(pooled):
    # Given a free user, and an upgrade request that takes a moment
    investor = make_investor()
    request = SubscriptionChange(plan="pro")

    def slow_change(claim, user_id, plan):
        time.sleep(0.2)  # the others arrive while this one still runs
        return change_plan(claim, user_id, plan)

    # When 20 identical requests with one Idempotency-Key race
    replies = race(
        20, lambda: idempotent_response("upgrade-once", request, 202, slow_change, investor.user_id, request.plan)
    )
    # Then one checkout was started
    assert _count(Checkout, Checkout.user_id == investor.user_id) == 1
    # And every request got the first response (original or replayed) or 409 while it was running
    outcomes = Counter(
        reply.code.value
        if isinstance(reply, AppError)
        else ("replayed" if reply.headers.get("Idempotent-Replayed") == "true" else "original")
        for reply in replies
    )
    assert outcomes["original"] == 1
    assert set(outcomes) <= {"original", "replayed", "IDEMPOTENCY_IN_PROGRESS"}
    assert len({reply.body["checkout"]["id"] for reply in replies if not isinstance(reply, AppError)}) == 1


def _started_checkout(investor, plan: str) -> dict[str, Any]:
    """The checkout the investor started for `plan`, as the API answers it."""
    return change_plan(None, investor.user_id, plan).checkout.model_dump(mode="json")


def _invoice_paid(investor, **data) -> Callable[[], Any]:
    """A delivery of a new invoice.paid event (its own event id) for the investor."""
    return lambda: receive_payment_event(
        EventBody.model_validate_json(payment_event("invoice.paid", investor.user_id, **data))
    )


def _plan_changes(investor) -> int:
    """How many payments changed the investor's plan, by the audit trail."""
    subscription_id = stored_subscription(investor.user_id).id
    with unit_of_work() as session:
        audits = session.scalars(
            select(AuditEvent).where(AuditEvent.entity_id == subscription_id, AuditEvent.action == "payment_succeeded")
        ).all()
        return sum("plan" in audit.changes for audit in audits)


def test_racing_payments_naming_two_checkouts_complete_each_once(pooled):
    # Given a checkout for pro, replaced by one for enterprise
    investor = make_investor()
    replaced = _started_checkout(investor, "pro")
    pending = _started_checkout(investor, "enterprise")
    # When 10 invoice.paid events naming them (5 each, every one with its own event id) race
    replies = race_all([_invoice_paid(investor, **paying(pending)), _invoice_paid(investor, **paying(replaced))] * 5)
    # Then each is acknowledged; the pending checkout was completed once, the replaced one never
    assert all(not isinstance(reply, AppError) and reply.received for reply in replies)
    with unit_of_work() as session:
        statuses = {str(row.id): row.status for row in session.scalars(select(Checkout))}
    assert statuses == {pending["id"]: "COMPLETED", replaced["id"]: "REPLACED"}
    # And the plan changed once, to the one paid for
    assert _plan_changes(investor) == 1
    assert stored_subscription(investor.user_id).plan_code == "enterprise"


def test_a_downgrade_racing_a_renewal_leaves_one_consistent_state(pooled):
    # Given a pro user
    investor = make_investor()
    put_on_plan(investor, "pro")
    period_end = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)

    def downgrade() -> Any:
        return change_plan(None, investor.user_id, "free")

    # When their downgrade to free and the provider's renewal of pro race, 5 of each
    outcomes = race_all([downgrade, _invoice_paid(investor, period_end=period_end.isoformat())] * 5)
    assert not [outcome for outcome in outcomes if isinstance(outcome, AppError)]
    # Then, whichever came first: pro, renewed to the period paid for, with free scheduled at its end
    subscription = stored_subscription(investor.user_id)
    assert (subscription.plan_code, subscription.status, subscription.scheduled_plan_code) == ("pro", "ACTIVE", "free")
    assert subscription.current_period_end == period_end


def test_a_downgrade_racing_an_upgrades_payment_leaves_one_consistent_state(pooled):
    # Given a pro user with a checkout for enterprise
    investor = make_investor()
    put_on_plan(investor, "pro")
    checkout = _started_checkout(investor, "enterprise")

    def downgrade() -> Any:
        return change_plan(None, investor.user_id, "free")

    # When the downgrade to free and the checkout's payment race
    outcomes = race_all([downgrade, _invoice_paid(investor, **paying(checkout))])
    assert not [outcome for outcome in outcomes if isinstance(outcome, AppError)]
    # Then the user is on enterprise, paid for; the downgrade is scheduled after it, or dropped by it
    subscription = stored_subscription(investor.user_id)
    assert (subscription.plan_code, subscription.status) == ("enterprise", "ACTIVE")
    assert subscription.scheduled_plan_code in (None, "free")
    assert _plan_changes(investor) == 2  # free -> pro, pro -> enterprise


def test_fifty_parallel_creates_while_an_upgrade_is_pending_stop_at_the_free_quota(pooled):
    # Given a free user whose checkout for enterprise is not paid yet
    investor = make_investor()
    _started_checkout(investor, "enterprise")
    body = SignalCreate.model_validate(buy_body())

    def create() -> str:
        return str(create_signal_within_quota(None, investor.user_id, body).id)

    # When 50 creates race
    outcomes = race(50, create)
    # Then free's 10 are created and 40 refused
    assert _count(Signal, Signal.user_id == investor.user_id) == 10
    assert Counter(outcome.code.value for outcome in outcomes if isinstance(outcome, AppError)) == {
        "QUOTA_EXCEEDED": 40
    }


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


def test_ten_cancellations_at_once_racing_a_downgrade_leave_one_record_each(pooled):
    # Given a pro user
    investor = make_investor()
    put_on_plan(investor, "pro")

    # When they cancel ten times at the same instant while a downgrade to free is chosen
    # (each cancellation reads the row without a lock, then writes it only while it is as read)
    attempts = [lambda: cancel_at_period_end(investor.user_id)] * 10
    outcomes = race_all([*attempts, lambda: change_plan(None, investor.user_id, "free")])
    # Then every request succeeds, each seeing a subscription that was really there
    assert not [outcome for outcome in outcomes if isinstance(outcome, AppError)]
    assert all(outcome.plan.code == "pro" for outcome in outcomes)
    # And the cancellation is recorded once, or twice when the downgrade came between two of them
    # (it replaces the cancellation, the next one replaces the downgrade); and the last word holds
    cancellations = _count(
        AuditEvent,
        AuditEvent.entity_id == stored_subscription(investor.user_id).id,
        AuditEvent.action == "cancel_requested",
    )
    downgrades = _count(
        AuditEvent,
        AuditEvent.action == "downgrade_scheduled",
        AuditEvent.entity_id == stored_subscription(investor.user_id).id,
    )
    assert (cancellations, downgrades) in ((1, 1), (2, 1))
    final = stored_subscription(investor.user_id)
    with unit_of_work() as session:
        last = session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_id == final.id).order_by(AuditEvent.id.desc())
        ).first()
    expected = {"cancel_requested": (True, None), "downgrade_scheduled": (False, "free")}[last]
    assert (final.cancel_at_period_end, final.scheduled_plan_code) == expected


def test_ten_upgrades_at_once_leave_one_pending_checkout(pooled):
    # Given a free user
    investor = make_investor()
    # When they choose pro and enterprise ten times at the same instant (no Idempotency-Key)
    plans = ["pro", "enterprise"] * 5
    outcomes = race_all([lambda plan=plan: change_plan(None, investor.user_id, plan) for plan in plans])
    # Then every request starts a checkout, each replacing the one before: exactly one stays pending,
    # and it is the one the subscription shows
    assert not [outcome for outcome in outcomes if isinstance(outcome, AppError)]
    started = {outcome.checkout.id for outcome in outcomes}
    assert len(started) == 10
    pending = _count(Checkout, Checkout.user_id == investor.user_id, Checkout.status == "PENDING")
    assert pending == 1
    assert get_subscription(investor.user_id).pending_checkout.id in started
