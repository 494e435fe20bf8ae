"""The stream's outbox, tickets, connections and delivery, on SQLite, PostgreSQL and MariaDB.

The API Gateway Management API is faked (tests/support/stream.py); the gateway tests drive the
real thing over WebSockets.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from invest_dev.samples import stream_ticket, unlimited_quota
from invest_dev.template import functions
from investment_system.db import engine as db_engine
from investment_system.db.base import utcnow
from investment_system.db.engine import unit_of_work
from investment_system.errors import AppError, AuthenticationError, ErrorCode, RequestError
from investment_system.models import StreamConnection, StreamTicket, UserStream
from investment_system.schemas.signals import SignalClose, SignalCreate, SignalUpdate
from investment_system.schemas.stream import StreamEventType
from investment_system.services.accounts.tokens import verify_access_token
from investment_system.services.billing.subscriptions import cancel_at_period_end
from investment_system.services.signals.expiry import expire_overdue_signals
from investment_system.services.signals.lifecycle import close_signal, create_signal, delete_signal, update_signal
from investment_system.services.signals.reads import get_signal
from investment_system.services.stream.connections import connect, issue_ticket
from investment_system.services.stream.delivery import DELIVERY_LEASE, deliver, remove_connection
from investment_system.services.stream.events import record_event
from tests.support.signals import make_investor, set_row
from tests.support.stream import connection_row, install_fake_api, open_connections, outbox


def _create(user_id, **overrides):
    body = {"symbol": "AAPL", "direction": "BUY", "confidence": "0.5", "entry_price": "100", "timeframe": "1h"}
    with unit_of_work() as session:
        return create_signal(
            session, user_id, SignalCreate.model_validate({**body, **overrides}), unlimited_quota(session, user_id)
        )


@pytest.fixture
def api(monkeypatch, settings_env):
    """The fake Management API; `api.requested` holds the deliveries the code asked for (Lambda Invoke)."""
    return install_fake_api(monkeypatch, settings_env)


def _open(api, user_id, connection_id, last_event_id=None):
    """A connection as API Gateway opens it: $connect, then the delivery $connect asked for, if any."""
    connect(stream_ticket(user_id), connection_id, last_event_id)
    api.open.add(connection_id)
    if api.requested:  # a replay or an eviction
        _deliver_requested(api.requested.pop())


def _session_of(investor) -> uuid.UUID:
    return uuid.UUID(verify_access_token(investor.token)["sid"])


def _deliver_requested(request):
    return deliver(uuid.UUID(request["user_id"]), opened=request.get("opened"), evicted=request.get("evicted", ()))


def test_every_signal_change_writes_its_event_numbered_per_user(db):
    # Given two investors
    alice, bob = make_investor("alice"), make_investor("bob")
    # When alice's signal is created, updated, closed, another expires and a third is deleted, and bob creates one
    first = _create(alice.user_id)
    update_signal(alice.user_id, str(first.id), SignalUpdate(notes="raised"))
    close_signal(alice.user_id, str(first.id), SignalClose(exit_price="110"))
    expiring = _create(alice.user_id, expires_at=(utcnow() + timedelta(hours=1)).isoformat())
    set_row(expiring.id, expires_at=utcnow() - timedelta(seconds=1))
    expire_overdue_signals()
    deleted = _create(alice.user_id)
    delete_signal(alice.user_id, str(deleted.id))
    _create(bob.user_id)
    # Then alice's outbox holds one event per change, numbered 1, 2, 3... with the signal as it became
    events = outbox(alice.user_id)
    assert [(e.id, e.type) for e in events] == [
        (1, "signal.created"),
        (2, "signal.updated"),
        (3, "signal.closed"),
        (4, "signal.created"),
        (5, "signal.expired"),
        (6, "signal.created"),
        (7, "signal.deleted"),
    ]
    assert (events[2].data["status"], events[2].data["exit_price"]) == ("CLOSED", "110")
    assert (events[4].data["status"], events[4].data["id"]) == ("EXPIRED", str(expiring.id))
    # And bob's events are numbered on their own
    assert [(e.id, e.type) for e in outbox(bob.user_id)] == [(1, "signal.created")]


def test_a_subscription_change_writes_its_event(db):
    investor = make_investor()
    cancel_at_period_end(investor.user_id)
    changed = [e for e in outbox(investor.user_id) if e.type == "subscription.changed"]
    assert changed[-1].data["cancel_at_period_end"] is True


def test_a_change_that_rolls_back_leaves_no_event(db):
    # Given an investor whose second signal breaks a rule after its event was written
    investor = make_investor()
    _create(investor.user_id)
    body = SignalCreate.model_validate(
        {"symbol": "MSFT", "direction": "BUY", "confidence": "0.5", "entry_price": "100", "timeframe": "1h"}
    )

    def create_then_fail() -> None:
        with unit_of_work() as session:
            create_signal(session, investor.user_id, body, unlimited_quota(session, investor.user_id))
            raise AppError(ErrorCode.INTERNAL_ERROR)

    with pytest.raises(AppError):
        create_then_fail()
    # Then neither the signal nor its event exist, and the next event takes the id it would have had
    _create(investor.user_id)
    assert [e.id for e in outbox(investor.user_id)] == [1, 2]


def test_a_ticket_opens_one_connection_once(db, api):
    investor = make_investor()
    ticket = issue_ticket(investor.user_id, _session_of(investor))
    assert (ticket.expires_in, len(ticket.ticket)) == (60, 43)
    assert connect(ticket.ticket, "conn-1", None) == investor.user_id
    # A used, forged, missing or expired ticket is refused
    expired = stream_ticket(investor.user_id)
    with unit_of_work() as session:
        for row in session.query(StreamTicket):
            row.expires_at = utcnow() - timedelta(seconds=1)
    for refused in (ticket.ticket, ticket.ticket[:-2] + "xx", None, "", investor.token, expired):
        with pytest.raises(AuthenticationError) as error:
            connect(refused, "conn-2", None)
        assert error.value.code == ErrorCode.STREAM_TICKET_INVALID
    assert open_connections(investor.user_id) == 1


def test_a_bad_last_event_id_is_refused_and_leaves_the_ticket_usable(db):
    investor = make_investor()
    ticket = stream_ticket(investor.user_id)
    for bad in ("-1", "abc", "1.5", "9" * 19):
        with pytest.raises(RequestError) as error:
            connect(ticket, "conn-1", bad)
        assert error.value.code == ErrorCode.INVALID_QUERY_PARAMETER
    assert connect(ticket, "conn-1", "0") == investor.user_id


def test_a_listening_user_gets_new_events_in_order_and_a_gone_connection_is_dropped(db, api):
    # Given an investor with two open connections, one of which the client then dropped
    investor = make_investor()
    _open(api, investor.user_id, "a")
    _open(api, investor.user_id, "b")
    # When three changes commit
    signal = _create(investor.user_id)
    update_signal(investor.user_id, str(signal.id), SignalUpdate(notes="n"))
    api.open.discard("b")
    set_row_connected_long_ago("b")
    close_signal(investor.user_id, str(signal.id), SignalClose(exit_price="101"))
    # Then each commit asked for a delivery of the user
    assert [request["user_id"] for request in api.requested] == [str(investor.user_id)] * 3
    # And a delivery sends connection a the three events in order, and forgets b
    report = deliver(investor.user_id)
    assert [(f["type"], f["id"]) for f in api.events_sent("a")] == [
        ("signal.created", "1"),
        ("signal.updated", "2"),
        ("signal.closed", "3"),
    ]
    assert api.events_sent("a")[0]["data"]["id"] == str(signal.id)
    assert report.gone == ["b"]
    assert connection_row("b") is None
    assert open_connections(investor.user_id) == 1
    # And a second delivery sends nothing twice
    assert deliver(investor.user_id).pushed == 0


def set_row_connected_long_ago(connection_id: str) -> None:
    with unit_of_work() as session:
        session.get(StreamConnection, connection_id).connected_at = utcnow() - timedelta(minutes=5)


def test_a_user_without_connections_asks_for_no_delivery(db, api):
    investor = make_investor()
    _create(investor.user_id)
    assert api.requested == []


def test_a_reconnect_replays_what_it_missed_then_goes_live(db, api):
    # Given an investor who saw events 1 and 2, then was away while three more happened
    investor = make_investor()
    for _ in range(5):
        _create(investor.user_id)
    # When a connection opens with last_event_id=2
    _open(api, investor.user_id, "again", "2")
    # Then it gets 3, 4, 5, oldest first, and afterwards the next one live
    _create(investor.user_id)
    deliver(investor.user_id)
    assert [f["id"] for f in api.events_sent("again")] == ["3", "4", "5", "6"]


def test_a_replay_stops_at_100_and_continues_with_what_follows_the_connection(db, api):
    investor = make_investor()
    with unit_of_work() as session:
        for _ in range(150):
            record_event(session, investor.user_id, StreamEventType.SIGNAL_UPDATED, SignalClose(exit_price="1"))
    _open(api, investor.user_id, "late", "10")
    _create(investor.user_id)
    deliver(investor.user_id)
    ids = [int(f["id"]) for f in api.events_sent("late")]
    assert ids == [*range(11, 111), 151]


def test_a_connection_still_in_its_handshake_is_waited_for_then_sent_its_events(db, api):
    # Given a connection that $connect accepted but API Gateway has not opened yet
    investor = make_investor()
    connect(stream_ticket(investor.user_id), "opening", None)
    api.opening.add("opening")
    # When an event's delivery finds it "gone", Then it waits for the handshake and sends it the event
    _create(investor.user_id)
    report = deliver(investor.user_id)
    assert (report.pushed, report.gone) == (1, [])
    assert [f["id"] for f in api.events_sent("opening")] == ["1"]


def test_a_sixth_connection_closes_the_oldest(db, api):
    investor = make_investor()
    for n in range(5):
        _open(api, investor.user_id, f"c{n}")
    _open(api, investor.user_id, "c5")
    assert api.deleted == ["c0"]
    assert api.frames["c0"][-1]["code"] == "CONNECTION_LIMIT_EXCEEDED"
    assert connection_row("c0") is None
    assert open_connections(investor.user_id) == 5


def test_a_refused_push_keeps_the_event_for_the_next_delivery(db, api):
    investor = make_investor()
    _open(api, investor.user_id, "a")
    _create(investor.user_id)
    api.refuse_posts = True
    assert deliver(investor.user_id).failed == 1
    api.refuse_posts = False
    deliver(investor.user_id)
    assert [f["id"] for f in api.events_sent("a")] == ["1"]


def test_disconnect_forgets_the_connection_once(db, api):
    investor = make_investor()
    _open(api, investor.user_id, "a")
    remove_connection("a")
    remove_connection("a")
    assert open_connections(investor.user_id) == 0


def test_a_push_that_hangs_holds_no_database_lock(db, api):
    # Given alice listening on a connection whose client never reads: a push to it hangs
    alice, bob = make_investor("alice"), make_investor("bob")
    _open(api, alice.user_id, "stalled")
    api.stalled.add("stalled")
    _create(alice.user_id)
    with ThreadPoolExecutor(2) as pool:
        delivering = pool.submit(_deliver_requested, api.requested.pop())
        try:
            assert api.stalling.wait(10)
            # When, while its push hangs, another user changes a signal, Then it commits at once (no 503
            # DATABASE_UNAVAILABLE after SQLite's busy timeout)
            pool.submit(_create, bob.user_id).result(timeout=3)
            # And neither does alice wait, opening another connection and changing a signal
            assert pool.submit(_connect_and_change, api, alice.user_id).result(timeout=3) == 0
        finally:
            api.unstall.set()
        report = delivering.result(timeout=30)
    # And the hung delivery, once its push went through, goes round again for what came meanwhile, in order
    assert [f["id"] for f in api.events_sent("stalled")] == ["1", "2"]
    assert [f["id"] for f in api.events_sent("fresh")] == ["2"]
    assert report.pushed == 3


def _connect_and_change(api, alice: uuid.UUID) -> int:
    """Alice's new connection and change, and the delivery her change asks for: what that delivery
    pushed (nothing: the hung one holds the lease, and goes round once more)."""
    connect(stream_ticket(alice), "fresh", None)
    api.open.add("fresh")
    _create(alice)
    return _deliver_requested(api.requested.pop()).pushed


def test_a_lease_left_by_a_run_that_died_expires(db, api):
    # Given a listening investor whose deliveries' lease a run that died still holds
    investor = make_investor()
    _open(api, investor.user_id, "a")
    _create(investor.user_id)
    _set_lease(investor.user_id, utcnow() + timedelta(seconds=30))
    # When a delivery runs, Then it leaves the events to the holder
    assert deliver(investor.user_id).pushed == 0
    # And once the lease has expired, the next delivery takes it and sends them
    _set_lease(investor.user_id, utcnow() - timedelta(seconds=1))
    assert deliver(investor.user_id).pushed == 1
    assert [f["id"] for f in api.events_sent("a")] == ["1"]


def test_the_lease_outlasts_the_delivery_function():
    spec = next(spec for spec in functions() if spec.name == "StreamDeliveryFunction")
    assert timedelta(seconds=spec.timeout_seconds) < DELIVERY_LEASE


def _set_lease(user_id: uuid.UUID, until) -> None:
    with unit_of_work() as session:
        session.get(UserStream, user_id).delivery_until = until


WRITERS = 8
PER_WRITER = 5


@pytest.fixture
def pooled(server_db):
    engine = server_db.make_engine(pool_size=WRITERS)
    db_engine.use_engine(engine)
    yield server_db
    db_engine.use_engine(server_db.engine)
    engine.dispose()


def test_concurrent_writers_lose_no_event_and_duplicate_none(pooled):
    # Given one investor and 8 writers, each in its own transactions, as separate containers would be
    investor = make_investor()
    signal = _create(investor.user_id)

    def write(worker: int) -> int:
        for n in range(PER_WRITER):
            _create(investor.user_id, symbol=f"W{worker}")
            update_signal(investor.user_id, str(signal.id), SignalUpdate(notes=f"{worker}-{n}"))
        return worker

    # When they all write at once
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(write, range(WRITERS)))
    # Then the outbox has exactly one event per committed change, numbered 1..n without a gap
    events = outbox(investor.user_id)
    total = 1 + WRITERS * PER_WRITER * 2
    assert [e.id for e in events] == list(range(1, total + 1))
    assert sum(e.type == "signal.created" for e in events) == 1 + WRITERS * PER_WRITER
    # And ids follow commit order: the last update's event shows the signal as it was left
    updates = [e for e in events if e.type == "signal.updated"]
    assert updates[-1].data == get_signal(investor.user_id, str(signal.id)).model_dump(mode="json")
