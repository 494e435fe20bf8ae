"""The scheduled billing functions, through their handlers and sample events, on every database backend:
due plan changes and dunning (ApplySubscriptionChangesFunction), and the housekeeping purge
(HousekeepingFunction)."""

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from invest_dev.events import LambdaContextStub
from invest_dev.template import ROOT
from investment_system.db.engine import unit_of_work
from investment_system.models import AuditEvent, IdempotencyRecord, PaymentEvent, RefreshToken, UserSession
from investment_system.models.checkouts import Checkout, CheckoutStatus
from investment_system.models.idempotency import IdempotencyStatus
from investment_system.schemas.billing import PaymentEvent as EventBody
from investment_system.services.billing.schedule import apply_due_changes
from investment_system.services.billing.webhooks import receive_payment_event
from investment_system.services.system.housekeeping import purge_expired_records
from tests.support.billing import (
    CHANGE_PLAN,
    call,
    count_metrics_from_here,
    emitted_metrics,
    payment_event,
    put_on_plan,
    stored_subscription,
    time_passes,
)
from tests.support.functions import function_module
from tests.support.signals import make_investor

MONTH = timedelta(days=31)


def _run(function_name: str) -> dict[str, int]:
    event = json.loads((ROOT / f"events/{function_name}.json").read_text())
    context = LambdaContextStub(function_name=function_name, timeout_seconds=120)
    return function_module(function_name).handler(event, context)


def _fail_payment(user_id: uuid.UUID) -> None:
    receive_payment_event(EventBody.model_validate_json(payment_event("invoice.payment_failed", user_id)))


def _terms(user_id: uuid.UUID) -> tuple[str, str, str | None, bool]:
    subscription = stored_subscription(user_id)
    return (
        subscription.plan_code,
        subscription.status,
        subscription.scheduled_plan_code,
        subscription.cancel_at_period_end,
    )


def _count(model, *conditions) -> int:
    with unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*conditions)))


def test_the_scheduled_run_applies_what_is_due_for_users_who_send_no_request(db, capsys):
    # Given users whose changes fell due while they made no request...
    downgraded, canceled, dunned = make_investor("downgraded"), make_investor("canceled"), make_investor("dunned")
    # ...and users whose changes are not due yet
    later, in_grace = make_investor("later"), make_investor("in-grace")
    for investor in (downgraded, canceled, dunned, later, in_grace):
        put_on_plan(investor, "pro")
    for investor in (downgraded, later):
        call(CHANGE_PLAN, investor, json_body={"plan": "free"})
    call(("CancelSubscriptionFunction", "DELETE", "/v1/billing/subscription"), canceled)
    for investor in (dunned, in_grace):
        _fail_payment(investor.user_id)
    for investor in (downgraded, canceled):
        time_passes(investor.user_id, MONTH)
    time_passes(dunned.user_id, timedelta(days=8))
    time_passes(in_grace.user_id, timedelta(days=6))
    count_metrics_from_here(capsys)
    # When the scheduled function runs
    assert _run("ApplySubscriptionChangesFunction") == {"subscriptions": 3}
    # Then the due ones are written as in force, each with its audit row, and counted
    assert _terms(downgraded.user_id) == ("free", "ACTIVE", None, False)
    assert _terms(canceled.user_id) == ("free", "CANCELED", None, False)
    assert _terms(dunned.user_id) == ("free", "CANCELED", None, False)
    actions = {"downgraded": 1, "canceled": 1, "dunning_downgrade": 1}
    for action, count in actions.items():
        assert _count(AuditEvent, AuditEvent.action == action, AuditEvent.actor_id.is_(None)) == count, action
    metrics = emitted_metrics(capsys.readouterr().out)
    assert (metrics.get("DowngradesApplied"), metrics.get("DunningDowngrades"), metrics.get("PlanChanged")) == (2, 1, 3)
    # And the others are untouched
    assert _terms(later.user_id) == ("pro", "ACTIVE", "free", False)
    assert _terms(in_grace.user_id) == ("pro", "PAST_DUE", None, False)
    # And running again finds nothing to do
    assert _run("ApplySubscriptionChangesFunction") == {"subscriptions": 0}
    assert _count(AuditEvent, AuditEvent.action.in_(actions)) == 3


def test_the_scheduled_run_works_in_bounded_batches_and_the_next_run_carries_on(db):
    # Given 5 users whose downgrade is due
    investors = [make_investor(f"due-{n}") for n in range(5)]
    for investor in investors:
        put_on_plan(investor, "pro")
        call(CHANGE_PLAN, investor, json_body={"plan": "free"})
        time_passes(investor.user_id, MONTH)
    # When a run may do 2 batches of 2
    assert apply_due_changes(batch_size=2, max_batches=2) == 4
    # Then the fifth waits for the next run
    assert sorted(_terms(investor.user_id)[0] for investor in investors) == ["free"] * 4 + ["pro"]
    assert apply_due_changes(batch_size=2, max_batches=2) == 1
    assert {_terms(investor.user_id)[0] for investor in investors} == {"free"}


def test_a_run_and_a_read_apply_a_due_change_once(db):
    investor = make_investor()
    put_on_plan(investor, "pro")
    call(CHANGE_PLAN, investor, json_body={"plan": "free"})
    time_passes(investor.user_id, MONTH)
    call(("GetSubscriptionFunction", "GET", "/v1/billing/subscription"), investor)
    assert apply_due_changes() == 0
    assert _count(AuditEvent, AuditEvent.action == "downgraded") == 1


def _checkout(user_id: uuid.UUID, status: CheckoutStatus, expires_at: datetime) -> None:
    with unit_of_work() as session:
        session.add(
            Checkout(
                user_id=user_id,
                plan_code="pro",
                amount_cents=2900,
                currency="USD",
                status=status.value,
                expires_at=expires_at,
            )
        )


def _idempotency_record(user_id: uuid.UUID, expires_at: datetime) -> None:
    with unit_of_work() as session:
        session.add(
            IdempotencyRecord(
                user_id=user_id,
                key_hash=uuid.uuid4().hex * 2,
                request_hash="0" * 64,
                status=IdempotencyStatus.COMPLETED.value,
                claim_token=uuid.uuid4(),
                locked_until=expires_at,
                expires_at=expires_at,
            )
        )


def _payment_event(received_at: datetime) -> None:
    with unit_of_work() as session:
        session.add(
            PaymentEvent(id=f"evt_{uuid.uuid4().hex}", type="x", outcome="ignored", payload={}, received_at=received_at)
        )


def test_housekeeping_purges_what_is_past_its_use_and_keeps_the_rest(db, capsys):
    # Given a user with records past their use and records still of use
    investor = make_investor()  # signed in: one live refresh token
    now = datetime.now(UTC)
    past, future = now - timedelta(minutes=1), now + timedelta(hours=1)
    _checkout(investor.user_id, CheckoutStatus.PENDING, past)  # expired
    _checkout(investor.user_id, CheckoutStatus.REPLACED, past)  # replaced, and expired
    _checkout(investor.user_id, CheckoutStatus.COMPLETED, past)  # paid: kept
    _checkout(investor.user_id, CheckoutStatus.PENDING, future)  # can still be paid: kept
    _idempotency_record(investor.user_id, past)
    _idempotency_record(investor.user_id, future)
    _payment_event(now - timedelta(days=91))
    _payment_event(now - timedelta(days=89))
    expired = make_investor("expired-session")
    with unit_of_work() as session:
        session.execute(
            update(RefreshToken).where(RefreshToken.user_id == expired.user_id).values(expires_at=past, revoked_at=past)
        )
    count_metrics_from_here(capsys)
    # When the housekeeping function runs
    removed = _run("HousekeepingFunction")
    # Then it removed what was past its use, and says so
    assert removed == {
        "checkouts": 2,
        "idempotency_records": 1,
        "payment_events": 1,
        "refresh_tokens": 1,
        "user_sessions": 0,
        "stream_events": 0,
        "stream_tickets": 0,
    }
    metrics = emitted_metrics(capsys.readouterr().out)
    assert (metrics.get("RowsPurged"), metrics.get("CheckoutsExpired")) == (5, 2)
    # And kept the rest
    assert _count(Checkout) == 2
    assert _count(Checkout, Checkout.status == CheckoutStatus.COMPLETED.value) == 1
    assert (_count(IdempotencyRecord), _count(PaymentEvent), _count(RefreshToken)) == (1, 1, 1)
    assert _count(RefreshToken, RefreshToken.user_id == investor.user_id) == 1
    # And a second run removes nothing more
    assert set(_run("HousekeepingFunction").values()) == {0}


def test_housekeeping_keeps_a_revoked_refresh_token_until_it_expires(db):
    # A rotated-away token must still be recognised when it is presented again (reuse detection)
    investor = make_investor()
    with unit_of_work() as session:
        session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == investor.user_id)
            .values(revoked_at=datetime.now(UTC) - timedelta(days=1))
        )
    assert purge_expired_records()["refresh_tokens"] == 0
    assert _count(RefreshToken, RefreshToken.user_id == investor.user_id) == 1


def test_housekeeping_purges_sessions_past_their_end_with_their_tokens(db):
    # Given a session past its end (its tokens expired with it) and a live one
    ended, live = make_investor("ended"), make_investor("live")
    with unit_of_work() as session:
        session.execute(
            update(UserSession)
            .where(UserSession.user_id == ended.user_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    # When housekeeping runs
    assert purge_expired_records()["user_sessions"] == 1
    # Then the ended session is gone with its refresh token, and the live one is untouched
    assert _count(UserSession, UserSession.user_id == ended.user_id) == 0
    assert _count(RefreshToken, RefreshToken.user_id == ended.user_id) == 0
    assert _count(UserSession, UserSession.user_id == live.user_id) == 1
    assert _count(RefreshToken, RefreshToken.user_id == live.user_id) == 1


def test_housekeeping_works_in_bounded_batches(db):
    investor = make_investor()
    for _ in range(5):
        _idempotency_record(investor.user_id, datetime.now(UTC) - timedelta(seconds=1))
    assert purge_expired_records(batch_size=2, max_batches=2)["idempotency_records"] == 4
    assert purge_expired_records(batch_size=2, max_batches=2)["idempotency_records"] == 1
    assert _count(IdempotencyRecord) == 0


def test_runs_stop_when_the_invocation_runs_short_of_time_and_the_next_carries_on(db):
    # Given 3 subscriptions with a change due, and 3 idempotency records past their 24 hours
    investors = [make_investor(f"due-{n}") for n in range(3)]
    for investor in investors:
        put_on_plan(investor, "pro")
        call(CHANGE_PLAN, investor, json_body={"plan": "free"})
        time_passes(investor.user_id, MONTH)
        _idempotency_record(investor.user_id, datetime.now(UTC) - timedelta(seconds=1))
    # When runs in batches of 1 learn after their first batch that their time is short
    applied = apply_due_changes(batch_size=1, keep_going=lambda: False)
    answers = iter([True, True])  # before the checkouts, before the idempotency records; then short
    purged = purge_expired_records(batch_size=1, keep_going=lambda: next(answers, False))
    # Then each did one batch
    assert (applied, purged["idempotency_records"]) == (1, 1)
    assert (purged["payment_events"], purged["refresh_tokens"]) == (0, 0)
    # And the next runs carry on
    assert apply_due_changes() == 2
    assert purge_expired_records()["idempotency_records"] == 2
