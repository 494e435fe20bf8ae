"""Conditional requests on a signal, on SQLite, PostgreSQL and MariaDB: its ETag, 304 for a copy still
current (If-None-Match), 412 PRECONDITION_FAILED for a change to a version no longer current (If-Match),
checked by the UPDATE itself so that parallel writers with the same ETag cannot both succeed."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from investment_system.db import engine as db_engine
from investment_system.db.base import utcnow
from investment_system.errors import AppError, ErrorCode
from investment_system.schemas.signals import SignalUpdate
from investment_system.schemas.versions import Precondition
from investment_system.services.signals.expiry import expire_overdue_signals
from investment_system.services.signals.lifecycle import update_signal
from tests.support.signals import CLOSE, DELETE, GET, HISTORY, UPDATE, call, create, make_investor, set_row

SECURITY_HEADERS = ("Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy")
PARALLEL_WRITERS = 20


def _etag(investor, signal_id) -> str:
    reply = call(GET, investor, signal_id)
    assert reply.status == 200, reply.text
    return reply.headers["ETag"]


def test_a_signal_has_a_strong_etag_that_changes_with_each_change(db):
    investor = make_investor()
    signal = create(investor)
    # When the signal is read twice, then changed, then closed
    first, again = _etag(investor, signal["id"]), _etag(investor, signal["id"])
    assert call(UPDATE, investor, signal["id"], json_body={"notes": "revised"}).status == 200
    updated = _etag(investor, signal["id"])
    assert call(CLOSE, investor, signal["id"], json_body={"exit_price": "190"}).status == 200
    closed = _etag(investor, signal["id"])
    # Then its ETag is a strong one (no W/), the same while nothing changed, and new after each change
    assert first.startswith('"')
    assert first.endswith('"')
    assert first == again
    assert len({first, updated, closed}) == 3


def test_if_none_match_with_the_current_etag_is_304_without_a_body_but_with_the_headers(db):
    investor = make_investor()
    signal = create(investor)
    etag = _etag(investor, signal["id"])
    # When the client asks again with the ETag it holds (alone, weak, in a list, or `*`)
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        reply = call(GET, investor, signal["id"], headers={"If-None-Match": header, "X-Correlation-ID": "corr-304-abc"})
        # Then the answer is 304 with no body, and still the ETag, the security headers and the correlation ID
        assert reply.status == 304, (header, reply.text)
        assert not reply.raw.get("body")
        assert "Content-Type" not in reply.headers
        assert reply.headers["ETag"] == etag
        assert reply.headers["X-Correlation-ID"] == "corr-304-abc"
        assert all(name in reply.headers for name in SECURITY_HEADERS)


def test_if_none_match_with_an_older_etag_gets_the_signal(db):
    investor = make_investor()
    signal = create(investor)
    old = _etag(investor, signal["id"])
    assert call(UPDATE, investor, signal["id"], json_body={"notes": "revised"}).status == 200
    # When the client asks with the ETag of the version before the change
    reply = call(GET, investor, signal["id"], headers={"If-None-Match": old})
    # Then it gets the signal as it is now, with its new ETag
    assert reply.status == 200
    assert reply.json["notes"] == "revised"
    assert reply.headers["ETag"] != old


def test_the_etag_changes_when_the_signal_expires_before_and_when_the_job_stores_it(db):
    investor = make_investor()
    signal = create(investor)
    open_etag = _etag(investor, signal["id"])
    # When its expiry passes (nothing written yet), then the expiry job stores it EXPIRED
    set_row(signal["id"], expires_at=utcnow() - timedelta(seconds=1))
    stored_open_etag = _etag(investor, signal["id"])
    overdue = call(GET, investor, signal["id"], headers={"If-None-Match": stored_open_etag})
    expire_overdue_signals()
    expired = call(GET, investor, signal["id"], headers={"If-None-Match": overdue.headers["ETag"]})
    # Then a copy that said OPEN is no longer current, nor the overdue one once the job changed the row
    assert overdue.status == 304  # nothing changed between these two reads
    assert overdue.headers["ETag"] != open_etag
    assert (expired.status, expired.json["status"]) == (200, "EXPIRED")
    assert expired.headers["ETag"] != overdue.headers["ETag"]


@pytest.mark.parametrize(
    ("route", "body"),
    [(UPDATE, {"notes": "overwritten"}), (CLOSE, {"exit_price": "190"}), (DELETE, None)],
)
def test_a_write_with_a_stale_if_match_is_412_and_changes_nothing(db, route, body):
    investor = make_investor()
    signal = create(investor)
    stale = _etag(investor, signal["id"])
    # Given someone else changed the signal since the client read it
    assert call(UPDATE, investor, signal["id"], json_body={"notes": "someone else's"}).status == 200
    current = call(GET, investor, signal["id"])
    # When the client writes with the ETag it read
    reply = call(route, investor, signal["id"], json_body=body, headers={"If-Match": stale})
    # Then the answer is 412 PRECONDITION_FAILED, and the signal and its history are as the other change left them
    assert (reply.status, reply.error_code) == (412, "PRECONDITION_FAILED")
    after = call(GET, investor, signal["id"])
    assert (after.status, after.json, after.headers["ETag"]) == (200, current.json, current.headers["ETag"])
    assert [entry["action"] for entry in call(HISTORY, investor, signal["id"]).json["items"]] == ["created", "updated"]


@pytest.mark.parametrize(
    ("route", "body", "status"),
    [(UPDATE, {"notes": "mine"}, 200), (CLOSE, {"exit_price": "190"}, 200), (DELETE, None, 204)],
)
def test_a_write_with_the_current_etag_or_star_or_none_is_made(db, route, body, status):
    investor = make_investor()
    for if_match in ("current", "*", None):
        signal = create(investor)
        headers = (
            {} if if_match is None else {"If-Match": _etag(investor, signal["id"]) if if_match == "current" else "*"}
        )
        # When the client writes with the current ETag, with `*`, or without If-Match
        reply = call(route, investor, signal["id"], json_body=body, headers=headers)
        # Then the change is made
        assert reply.status == status, (if_match, reply.text)


def test_a_weak_etag_never_satisfies_if_match(db):
    investor = make_investor()
    signal = create(investor)
    etag = _etag(investor, signal["id"])
    # When the client sends the current ETag as a weak one (If-Match compares strongly)
    reply = call(UPDATE, investor, signal["id"], json_body={"notes": "x"}, headers={"If-Match": f"W/{etag}"})
    # Then it is refused, and with the strong one in a list it passes
    assert reply.status == 412
    listed = call(UPDATE, investor, signal["id"], json_body={"notes": "x"}, headers={"If-Match": f'"0", {etag}'})
    assert listed.status == 200


def test_a_stale_if_match_on_a_closed_signal_is_412_before_409(db):
    investor = make_investor()
    signal = create(investor)
    stale = _etag(investor, signal["id"])
    assert call(CLOSE, investor, signal["id"], json_body={"exit_price": "190"}).status == 200
    # When the client, unaware of the close, changes it with the ETag it read before
    reply = call(UPDATE, investor, signal["id"], json_body={"notes": "x"}, headers={"If-Match": stale})
    # Then the answer says its copy is stale (and, with the current ETag, that the signal is not open)
    assert reply.error_code == "PRECONDITION_FAILED"
    current = _etag(investor, signal["id"])
    assert call(UPDATE, investor, signal["id"], json_body={"notes": "x"}, headers={"If-Match": current}).status == 409


@pytest.fixture
def pooled(db):
    """The test database behind an engine with a connection per writer, as separate containers would have."""
    engine = db.make_engine(pool_size=PARALLEL_WRITERS)
    db_engine.use_engine(engine)
    yield db
    db_engine.use_engine(db.engine)
    engine.dispose()


@pytest.mark.slow
def test_parallel_writes_with_the_same_if_match_let_exactly_one_through(pooled):
    investor = make_investor()
    signal = create(investor)
    etag = _etag(investor, signal["id"])
    precondition = Precondition(versions=frozenset({etag.strip('"')}))

    def write(writer: int) -> str:
        try:
            update_signal(investor.user_id, signal["id"], SignalUpdate(notes=f"writer {writer}"), precondition)
        except AppError as error:
            return error.code.value
        return "OK"

    # When twenty writers change the signal at once, each with the ETag they all read
    with ThreadPoolExecutor(PARALLEL_WRITERS) as pool:
        outcomes = list(pool.map(write, range(PARALLEL_WRITERS)))
    # Then exactly one change is made; every other writer is told its copy is stale
    assert outcomes.count("OK") == 1
    assert outcomes.count(ErrorCode.PRECONDITION_FAILED.value) == PARALLEL_WRITERS - 1
    winner = outcomes.index("OK")
    after = call(GET, investor, signal["id"])
    assert after.json["notes"] == f"writer {winner}"
    assert [entry["action"] for entry in call(HISTORY, investor, signal["id"]).json["items"]] == ["created", "updated"]
