"""Billing services on every database backend: plan cache, periods, quota reset, idempotency records."""

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from invest_dev.template import load_template
from investment_system.db.engine import unit_of_work
from investment_system.errors import AppError, ErrorCode
from investment_system.models import IdempotencyRecord, Plan, Subscription
from investment_system.models.checkouts import Checkout
from investment_system.models.idempotency import IdempotencyStatus
from investment_system.schemas.signals import SignalCreate
from investment_system.services.billing import plans, published_plans
from investment_system.services.billing.plan_terms import add_months
from investment_system.services.billing.subscriptions import change_plan, get_subscription
from investment_system.services.signals.quota import create_signal_within_quota
from investment_system.services.system.idempotency import CLAIM_LEASE, fingerprint, run_idempotently
from tests.support.billing import count_a_signal
from tests.support.signals import buy_body, make_investor


def test_add_months_keeps_the_day_or_takes_the_months_last():
    assert add_months(datetime(2026, 1, 15, 9, 30, tzinfo=UTC)) == datetime(2026, 2, 15, 9, 30, tzinfo=UTC)
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC)) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2028, 1, 31, tzinfo=UTC)) == datetime(2028, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2026, 12, 5, tzinfo=UTC)) == datetime(2027, 1, 5, tzinfo=UTC)


def test_the_listed_plans_are_the_ones_the_migrations_leave_in_the_database(db, monkeypatch):
    # Given a database migrated to the latest revision, and no container copy of its plans
    monkeypatch.setattr(plans, "_cache", None)
    # When the plans are listed (GET /v1/billing/plans reads the copy released with the layer, plans.json)
    listed = published_plans.list_plans()
    # Then they are the database's plans, in the same order
    assert listed.items == list(plans.plan_catalogue().values())


def test_the_plan_catalogue_is_cached_until_its_ttl_runs_out(sqlite_db, monkeypatch):
    # Given a container that has read the catalogue
    monkeypatch.setattr(plans, "_cache", None)
    assert plans.plan_catalogue()["pro"].price_cents == 2900
    try:
        # When the price changes in the database
        with unit_of_work() as session:
            session.execute(update(Plan).where(Plan.code == "pro").values(price_cents=3900))
        # Then the container keeps serving its copy
        assert plans.plan_catalogue()["pro"].price_cents == 2900
        # Until the copy is older than the TTL
        assert plans._cache is not None
        monkeypatch.setattr(plans, "_cache", (time.monotonic() - 1, plans._cache[1]))
        assert plans.plan_catalogue()["pro"].price_cents == 3900
    finally:
        with unit_of_work() as session:
            session.execute(update(Plan).where(Plan.code == "pro").values(price_cents=2900))
        monkeypatch.setattr(plans, "_cache", None)


def test_a_free_period_renews_by_itself(db):
    # Given a free user whose period ended two and a half months ago
    investor = make_investor()
    get_subscription(investor.user_id)
    with unit_of_work() as session:
        subscription = session.scalars(select(Subscription).where(Subscription.user_id == investor.user_id)).one()
        subscription.current_period_start = datetime.now(UTC) - timedelta(days=105)
        subscription.current_period_end = add_months(subscription.current_period_start)
    # When they read their subscription
    current = get_subscription(investor.user_id)
    # Then it shows the period that contains now, still free and ACTIVE
    now = datetime.now(UTC)
    assert current.current_period_start <= now < current.current_period_end
    assert (current.plan.code, current.status.value) == ("free", "ACTIVE")


def test_the_quota_refusal_says_when_the_next_utc_day_starts(db):
    # Given a free user who used their 10 signals, 30 s before midnight UTC
    investor = make_investor()
    late = datetime(2026, 11, 26, 23, 59, 30, tzinfo=UTC)
    for _ in range(10):
        count_a_signal(investor.user_id, late)
    # When they try an 11th
    with pytest.raises(AppError) as refused:
        count_a_signal(investor.user_id, late)
    # Then 429 QUOTA_EXCEEDED, to retry in 30 s
    assert refused.value.code == ErrorCode.QUOTA_EXCEEDED
    assert refused.value.retry_after == 30
    # And at midnight the count starts again
    count_a_signal(investor.user_id, late + timedelta(seconds=30))


def _started(result):
    """What the route answers a checkout started: 202 and the result."""
    return 202, result.model_dump_json()


def _record(investor, key_hash_of, **changes):
    with unit_of_work() as session:
        session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.user_id == investor.user_id, IdempotencyRecord.key_hash == key_hash_of)
            .values(**changes)
        )


def _key_hash(key):
    return hashlib.sha256(key.encode()).hexdigest()


def _checkouts(investor) -> int:
    with unit_of_work() as session:
        return int(
            session.scalar(select(func.count()).select_from(Checkout).where(Checkout.user_id == investor.user_id))
        )


def test_a_request_while_the_first_still_runs_gets_409(db):
    # Given a claimed key whose request is still running
    investor = make_investor()
    request = fingerprint("SubscriptionChange", '{"plan":"pro"}')
    run_idempotently(investor.user_id, "k", request, _started, change_plan, investor.user_id, "pro")
    _record(investor, _key_hash("k"), status=IdempotencyStatus.IN_PROGRESS.value, response_body=None)
    # When the same request comes again
    with pytest.raises(AppError) as conflict:
        run_idempotently(investor.user_id, "k", request, _started, change_plan, investor.user_id, "pro")
    # Then 409 IDEMPOTENCY_IN_PROGRESS
    assert conflict.value.code == ErrorCode.IDEMPOTENCY_IN_PROGRESS
    assert conflict.value.status == 409


def test_an_abandoned_claim_is_taken_over_after_its_lease(db):
    # Given a key claimed by an invocation that died before doing anything (its lease is over)
    investor = make_investor()
    request = fingerprint("SubscriptionChange", '{"plan":"pro"}')
    with unit_of_work() as session:
        session.add(
            IdempotencyRecord(
                user_id=investor.user_id,
                key_hash=_key_hash("k"),
                request_hash=request,
                status=IdempotencyStatus.IN_PROGRESS.value,
                claim_token=uuid.uuid4(),
                locked_until=datetime.now(UTC) - timedelta(seconds=1),
                expires_at=datetime.now(UTC) + timedelta(hours=23),
            )
        )
    # When the client retries
    result = run_idempotently(investor.user_id, "k", request, _started, change_plan, investor.user_id, "pro")
    # Then the request runs, once
    assert (result.status, result.replayed) == (202, False)
    assert _checkouts(investor) == 1
    assert run_idempotently(investor.user_id, "k", request, _started, change_plan, investor.user_id, "pro").replayed


def test_a_claimant_that_lost_its_lease_cannot_complete_and_its_effect_rolls_back(db):
    # Given a request whose claim is taken over by another while it runs (it outlived its lease)
    investor = make_investor()
    request = fingerprint("SubscriptionChange", '{"plan":"pro"}')

    def slow_then_overtaken(claim, user_id, plan):
        _record(investor, _key_hash("k"), claim_token=uuid.uuid4())
        return change_plan(claim, user_id, plan)

    # When it finishes
    with pytest.raises(AppError) as conflict:
        run_idempotently(investor.user_id, "k", request, _started, slow_then_overtaken, investor.user_id, "pro")
    # Then it is refused with 409 and its change is not kept
    assert conflict.value.code == ErrorCode.IDEMPOTENCY_IN_PROGRESS
    assert _checkouts(investor) == 0


def test_a_signal_create_that_lost_its_claim_is_refused_409_and_the_key_stays_with_its_new_claimant(db):
    # Given a create whose key is taken over by another request while it runs (it outlived its lease)
    investor = make_investor()
    body = SignalCreate.model_validate(buy_body())
    request = fingerprint("SignalCreate", body.model_dump_json())
    overtaker = uuid.uuid4()

    def slow_then_overtaken(claim, user_id, data):
        _record(investor, _key_hash("k"), claim_token=overtaker)
        return create_signal_within_quota(claim, user_id, data)

    # When it finishes (its signal is written with the completion that no longer matches)
    with pytest.raises(AppError) as conflict:
        run_idempotently(investor.user_id, "k", request, _created, slow_then_overtaken, investor.user_id, body)
    # Then it is answered 409, and the key is still the new claimant's, running, with no response of ours
    assert conflict.value.code == ErrorCode.IDEMPOTENCY_IN_PROGRESS
    with unit_of_work() as session:
        record = session.scalars(select(IdempotencyRecord).where(IdempotencyRecord.user_id == investor.user_id)).one()
    assert (record.claim_token, record.status, record.response_body) == (overtaker, "IN_PROGRESS", None)


def _created(signal):
    return 201, signal.model_dump_json()


def test_a_key_older_than_24_hours_starts_afresh(db):
    # Given a key used a day ago
    investor = make_investor()
    old = fingerprint("SubscriptionChange", '{"plan":"pro"}')
    run_idempotently(investor.user_id, "k", old, _started, change_plan, investor.user_id, "pro")
    _record(investor, _key_hash("k"), expires_at=datetime.now(UTC) - timedelta(seconds=1))
    # When it is used again, even for another request
    new = fingerprint("SubscriptionChange", '{"plan":"enterprise"}')
    result = run_idempotently(investor.user_id, "k", new, _started, change_plan, investor.user_id, "enterprise")
    # Then it runs as a new request
    assert result.replayed is False
    assert json.loads(result.body)["checkout"]["plan"] == "enterprise"


def test_the_claim_lease_outlasts_the_idempotent_functions_timeouts():
    # A claim still IN_PROGRESS after its lease must belong to an invocation Lambda has stopped
    template = load_template()
    for name in ("ChangePlanFunction", "CreateSignalFunction"):
        timeout = template["Resources"][name]["Properties"].get("Timeout", template["Globals"]["Function"]["Timeout"])
        assert CLAIM_LEASE.total_seconds() > timeout, name
