"""The signals services on SQLite: state machine, ownership, soft delete, history, listing, expiry."""

import uuid
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pymysql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import exc

from invest_dev.samples import unlimited_quota
from investment_system.db.base import utcnow
from investment_system.db.engine import unit_of_work
from investment_system.errors import AppError, ErrorCode
from investment_system.models.signals import Direction, SignalStatus
from investment_system.observability import set_correlation_id
from investment_system.repositories.signals.signals import SignalRepository
from investment_system.schemas.signals import SignalClose, SignalCreate, SignalListQuery, SignalUpdate
from investment_system.services.signals import history as history_service
from investment_system.services.signals import lifecycle as service
from investment_system.services.signals import reads
from investment_system.services.signals.expiry import expire_overdue_signals
from tests.support.signals import make_investor, set_row, stored_status


def _create(user_id, **overrides):
    body = {
        "symbol": "AAPL",
        "direction": "BUY",
        "confidence": "0.6",
        "entry_price": "100",
        "target_price": "110",
        "stop_loss": "95",
        "timeframe": "1h",
    }
    body.update(overrides)
    with unit_of_work() as session:
        return service.create_signal(
            session, user_id, SignalCreate.model_validate(body), unlimited_quota(session, user_id)
        )


def _error(call) -> ErrorCode:
    with pytest.raises(AppError) as caught:
        call()
    return caught.value.code


def test_created_signal_is_open_with_exact_prices_and_a_history_row(sqlite_db):
    # Given an investor
    investor = make_investor()
    set_correlation_id("create-signal-0001")
    # When they create a signal with prices that binary floats cannot hold
    created = _create(investor.user_id, entry_price="0.1", target_price="0.30000001", stop_loss="0.00000001")
    # Then it is OPEN and the prices read back exactly
    fetched = reads.get_signal(investor.user_id, str(created.id))
    assert fetched.status is SignalStatus.OPEN
    assert (fetched.entry_price, fetched.target_price, fetched.stop_loss) == ("0.1", "0.30000001", "0.00000001")
    # And the history has one "created" row by the investor with the request's correlation ID
    entries = history_service.signal_history(investor.user_id, str(created.id)).items
    assert [(e.action, e.actor_id, e.correlation_id) for e in entries] == [
        ("created", investor.user_id, "create-signal-0001")
    ]
    assert entries[0].changes["entry_price"] == {"from": None, "to": "0.1"}


@pytest.mark.parametrize(
    ("levels", "fields"),
    [
        ({"target_price": "100"}, {"target_price"}),
        ({"stop_loss": "101"}, {"stop_loss"}),
        ({"target_price": "90", "stop_loss": "120"}, {"target_price", "stop_loss"}),
    ],
)
def test_buy_levels_on_the_wrong_side_are_refused_and_nothing_is_stored(sqlite_db, levels, fields):
    investor = make_investor()
    # When a BUY signal is created with a level on the wrong side of its entry
    with pytest.raises(AppError) as caught:
        _create(investor.user_id, **levels)
    # Then 422 INVALID_SIGNAL_LEVELS names each offending level, and no signal exists
    assert caught.value.code is ErrorCode.INVALID_SIGNAL_LEVELS
    assert {d["field"] for d in caught.value.details} == fields
    page = reads.list_signals(investor.user_id, SignalListQuery())
    assert page.items == []


def test_sell_levels_are_the_mirror_of_buy(sqlite_db):
    investor = make_investor()
    # A SELL signal wants target below and stop above the entry
    assert _create(investor.user_id, direction="SELL", target_price="90", stop_loss="105").status is SignalStatus.OPEN
    assert _error(lambda: _create(investor.user_id, direction="SELL")) is ErrorCode.INVALID_SIGNAL_LEVELS


def test_expiry_must_lie_in_the_future(sqlite_db):
    investor = make_investor()
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    assert _error(lambda: _create(investor.user_id, expires_at=past)) is ErrorCode.EXPIRY_IN_PAST


def test_update_rechecks_levels_against_the_stored_ones(sqlite_db):
    investor = make_investor()
    signal = _create(investor.user_id)
    signal_id = str(signal.id)
    # When only the stop is moved above the stored entry
    bad = SignalUpdate.model_validate({"stop_loss": "100.5"})
    assert _error(lambda: service.update_signal(investor.user_id, signal_id, bad)) is (ErrorCode.INVALID_SIGNAL_LEVELS)
    # When the target is cleared with null and the notes set
    updated = service.update_signal(
        investor.user_id,
        signal_id,
        SignalUpdate.model_validate({"target_price": None, "notes": "trailing"}),
    )
    # Then only those fields changed, and the history records exactly them
    assert (updated.target_price, updated.stop_loss, updated.notes) == (None, "95", "trailing")
    last = history_service.signal_history(investor.user_id, signal_id).items[-1]
    assert last.action == "updated"
    assert last.changes == {"target_price": {"from": "110", "to": None}, "notes": {"from": None, "to": "trailing"}}


def test_close_computes_the_return_and_ends_the_state_machine(sqlite_db):
    investor = make_investor()
    signal_id = str(_create(investor.user_id, direction="SELL", target_price="90", stop_loss="105").id)
    # When a SELL signal entered at 100 is closed at 92.125
    closed = service.close_signal(investor.user_id, signal_id, SignalClose.model_validate({"exit_price": "92.125"}))
    # Then it is CLOSED with the SELL return (100 - 92.125) / 100 x 100
    assert (closed.status, closed.exit_price, closed.return_pct) == (SignalStatus.CLOSED, "92.125", "7.8750")
    assert closed.closed_at is not None
    # And nothing more may change: update, close again -> 409 SIGNAL_NOT_OPEN
    again = SignalClose.model_validate({"exit_price": "1"})
    patch = SignalUpdate.model_validate({"notes": "late"})
    assert _error(lambda: service.close_signal(investor.user_id, signal_id, again)) is (ErrorCode.SIGNAL_NOT_OPEN)
    assert _error(lambda: service.update_signal(investor.user_id, signal_id, patch)) is (ErrorCode.SIGNAL_NOT_OPEN)


def test_an_exit_whose_return_the_column_cannot_hold_is_refused(sqlite_db):
    investor = make_investor()
    signal_id = str(_create(investor.user_id, entry_price="0.00000001", target_price=None, stop_loss=None).id)
    huge = SignalClose.model_validate({"exit_price": "9999999999"})
    assert _error(lambda: service.close_signal(investor.user_id, signal_id, huge)) is (ErrorCode.INVALID_PRICE)
    assert stored_status(signal_id) == "OPEN"


def test_another_users_signal_is_indistinguishable_from_a_missing_one(sqlite_db):
    owner, stranger = make_investor("owner"), make_investor("stranger")
    signal_id = str(_create(owner.user_id).id)
    calls = [
        lambda sid: reads.get_signal(stranger.user_id, sid),
        lambda sid: history_service.signal_history(stranger.user_id, sid),
        lambda sid: service.update_signal(stranger.user_id, sid, SignalUpdate(notes="x")),
        lambda sid: service.close_signal(stranger.user_id, sid, SignalClose(exit_price=Decimal(1))),
        lambda sid: service.delete_signal(stranger.user_id, sid),
    ]
    for attempt in calls:
        # Then the owner's id, a random id and a non-UUID all give SIGNAL_NOT_FOUND
        for sid in (signal_id, str(uuid.uuid4()), "analytics"):
            assert _error(lambda attempt=attempt, sid=sid: attempt(sid)) is ErrorCode.SIGNAL_NOT_FOUND
    # And the owner's signal is untouched
    assert reads.get_signal(owner.user_id, signal_id).notes is None


def test_deleted_signal_is_gone_for_its_owner_but_kept_for_audit(sqlite_db):
    investor = make_investor()
    signal_id = str(_create(investor.user_id).id)
    service.delete_signal(investor.user_id, signal_id)
    # Then reads, history and listing no longer show it
    assert _error(lambda: reads.get_signal(investor.user_id, signal_id)) is ErrorCode.SIGNAL_NOT_FOUND
    assert _error(lambda: service.delete_signal(investor.user_id, signal_id)) is (ErrorCode.SIGNAL_NOT_FOUND)
    assert reads.list_signals(investor.user_id, SignalListQuery()).items == []
    # But the row and its audit trail remain
    assert stored_status(signal_id) == "OPEN"
    from investment_system.services.system.audit import history

    with unit_of_work() as session:
        actions = [e.action for e in history(session, entity_type="signal", entity_id=uuid.UUID(signal_id))]
    assert actions == ["created", "deleted"]


def test_overdue_signal_reads_expired_everywhere_before_the_job_runs(sqlite_db):
    investor = make_investor()
    signal_id = str(_create(investor.user_id, expires_at=(utcnow() + timedelta(hours=1)).isoformat()).id)
    # Given its expiry has passed, but the expiry job has not run
    set_row(signal_id, expires_at=utcnow() - timedelta(seconds=1))
    # Then get, list and the status filters all report it EXPIRED
    assert reads.get_signal(investor.user_id, signal_id).status is SignalStatus.EXPIRED
    listed = reads.list_signals(investor.user_id, SignalListQuery())
    assert [s.status for s in listed.items] == [SignalStatus.EXPIRED]
    open_only = reads.list_signals(investor.user_id, SignalListQuery(status=SignalStatus.OPEN))
    expired_only = reads.list_signals(investor.user_id, SignalListQuery(status=SignalStatus.EXPIRED))
    assert (open_only.items, [str(s.id) for s in expired_only.items]) == ([], [signal_id])
    # And it can no longer be closed
    exit_price = SignalClose(exit_price=Decimal(101))
    assert _error(lambda: service.close_signal(investor.user_id, signal_id, exit_price)) is (ErrorCode.SIGNAL_NOT_OPEN)
    assert stored_status(signal_id) == "OPEN"


def test_expiry_job_stores_expired_in_bounded_batches_with_history(sqlite_db):
    investor = make_investor()
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    overdue = [str(_create(investor.user_id, expires_at=soon).id) for _ in range(5)]
    not_due = str(_create(investor.user_id, expires_at=soon).id)
    no_expiry = str(_create(investor.user_id).id)
    closed = str(_create(investor.user_id, expires_at=soon).id)
    service.close_signal(investor.user_id, closed, SignalClose(exit_price=Decimal(101)))
    for signal_id in [*overdue, closed]:
        set_row(signal_id, expires_at=utcnow() - timedelta(minutes=5))
    set_correlation_id("expiry-run-0001")
    # When the job runs with batches of 2, allowed 2 batches
    assert expire_overdue_signals(batch_size=2, max_batches=2) == 4
    # And then again without a batch limit
    assert expire_overdue_signals(batch_size=2) == 1
    # Then exactly the overdue OPEN signals are stored EXPIRED
    assert [stored_status(s) for s in overdue] == ["EXPIRED"] * 5
    assert [stored_status(s) for s in (not_due, no_expiry, closed)] == ["OPEN", "OPEN", "CLOSED"]
    # And each has an "expired" history row by the system (no actor), with the run's correlation ID
    entry = history_service.signal_history(investor.user_id, overdue[0]).items[-1]
    assert (entry.action, entry.actor_id, entry.correlation_id) == ("expired", None, "expiry-run-0001")
    assert entry.changes == {"status": {"from": "OPEN", "to": "EXPIRED"}}
    # And a run with nothing to do changes nothing
    assert expire_overdue_signals() == 0


def test_an_expiry_batch_the_database_rolled_back_for_a_deadlock_is_taken_again(sqlite_db):
    investor = make_investor()
    overdue = [
        str(_create(investor.user_id, expires_at=(utcnow() + timedelta(hours=1)).isoformat()).id) for _ in range(3)
    ]
    for signal_id in overdue:
        set_row(signal_id, expires_at=utcnow() - timedelta(minutes=5))
    # Given the database rolls the run's first batch back to break a deadlock (as InnoDB reports it)
    take_batch = SignalRepository.overdue_batch
    deadlocks = [exc.OperationalError("UPDATE signals", {}, pymysql.err.OperationalError(1213, "Deadlock found"))]

    def deadlocked_once(repository: SignalRepository, *args: object) -> object:
        batch = take_batch(repository, *args)
        if deadlocks:
            raise deadlocks.pop()
        return batch

    # When the job runs
    with mock.patch.object(SignalRepository, "overdue_batch", deadlocked_once):
        expired = expire_overdue_signals()
    # Then the batch was taken again: each overdue signal expired once, with one history row
    assert (expired, deadlocks) == (3, [])
    assert [stored_status(s) for s in overdue] == ["EXPIRED"] * 3
    assert [len(history_service.signal_history(investor.user_id, s).items) for s in overdue] == [2, 2, 2]


def test_list_filters_combine(sqlite_db):
    investor = make_investor()
    _create(investor.user_id, symbol="AAPL", strategy="breakout")
    wanted = _create(
        investor.user_id, symbol="msft", direction="SELL", target_price="90", stop_loss="105", strategy="breakout"
    )
    _create(investor.user_id, symbol="MSFT", strategy="mean-reversion")
    _create(
        make_investor("other").user_id,
        symbol="MSFT",
        direction="SELL",
        target_price="90",
        stop_loss="105",
        strategy="breakout",
    )
    query = SignalListQuery(symbol="MSFT", direction=Direction.SELL, strategy="breakout", status=SignalStatus.OPEN)
    page = reads.list_signals(investor.user_id, query)
    assert [s.id for s in page.items] == [wanted.id]


def test_created_range_is_inclusive_from_and_exclusive_to(sqlite_db):
    investor = make_investor()
    first, second, third = (_create(investor.user_id) for _ in range(3))
    page = reads.list_signals(
        investor.user_id,
        SignalListQuery(created_from=second.created_at, created_to=third.created_at),
    )
    assert [s.id for s in page.items] == [second.id]
    assert first.created_at < second.created_at
    backwards = SignalListQuery(created_from=third.created_at, created_to=first.created_at)
    assert _error(lambda: reads.list_signals(investor.user_id, backwards)) is (ErrorCode.INVALID_DATE_RANGE)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    before=st.integers(min_value=0, max_value=12),
    page_size=st.integers(min_value=1, max_value=5),
    inserted_while_paging=st.integers(min_value=0, max_value=4),
)
def test_paging_visits_every_signal_once_newest_first_even_while_signals_are_added(
    sqlite_db, before, page_size, inserted_while_paging
):
    # Given an investor with some signals
    sqlite_db.empty()
    investor = make_investor()
    existing = [_create(investor.user_id) for _ in range(before)]
    # When they page through with cursors while new signals keep arriving
    seen, cursor, pages = [], None, 0
    while True:
        page = reads.list_signals(investor.user_id, SignalListQuery(limit=page_size, cursor=cursor))
        seen.extend(s.id for s in page.items)
        if pages < inserted_while_paging:
            _create(investor.user_id)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    # Then every signal that existed before is seen exactly once, newest first, and nothing newer sneaks in
    newest_first = sorted(existing, key=lambda s: (s.created_at, s.id), reverse=True)
    assert seen == [s.id for s in newest_first]
