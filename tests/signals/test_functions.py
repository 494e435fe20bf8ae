"""The signals functions through their handlers, with API Gateway events, on SQLite, PostgreSQL and MariaDB."""

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from invest_dev.events import LambdaContextStub
from investment_system.db.base import utcnow
from tests.support.functions import function_module
from tests.support.signals import (
    ANALYTICS,
    CLOSE,
    CREATE,
    DELETE,
    GET,
    HISTORY,
    LIST,
    UPDATE,
    buy_body,
    call,
    create,
    make_investor,
    parse_time,
    sell_body,
    set_row,
    stored_status,
)

ROOT = Path(__file__).resolve().parents[2]
ROUTES_WITH_ID = [GET, UPDATE, CLOSE, DELETE, HISTORY]
BODIES = {UPDATE: {"notes": "mine now"}, CLOSE: {"exit_price": "150"}}


def test_create_returns_201_with_the_contracts_signal(db):
    investor = make_investor()
    # When a BUY signal is posted with a lower-case symbol and number and string prices
    reply = call(CREATE, investor, json_body=buy_body(entry_price=187.25, target_price="200.00000000"))
    # Then it is created OPEN, upper-cased, with prices as decimal strings and confidence as a number
    assert reply.status == 201, reply.text
    signal = reply.json
    assert set(signal) == {
        "id", "user_id", "symbol", "direction", "confidence", "entry_price", "target_price", "stop_loss",
        "timeframe", "strategy", "notes", "status", "exit_price", "return_pct", "expires_at", "closed_at",
        "created_at", "updated_at",
    }  # fmt: skip
    assert signal["user_id"] == str(investor.user_id)
    assert (signal["symbol"], signal["status"], signal["confidence"]) == ("AAPL", "OPEN", 0.75)
    assert (signal["entry_price"], signal["target_price"], signal["stop_loss"]) == ("187.25", "200", "180.5")
    assert signal["created_at"].endswith("Z")


def test_json_number_prices_keep_every_digit(db):
    investor = make_investor()
    # Given prices as JSON numbers with 18 significant digits (more than a binary float holds)
    body = json.dumps(buy_body()).replace('"187.25"', "1234567890.12345678").replace('"200"', "1234567890.12345679")
    body = body.replace('"180.5"', "0.00000001")
    # When the signal is created and read back
    created = call(CREATE, investor, body=body)
    assert created.status == 201, created.text
    fetched = call(GET, investor, created.json["id"]).json
    # Then every digit survived
    assert (fetched["entry_price"], fetched["target_price"], fetched["stop_loss"]) == (
        "1234567890.12345678",
        "1234567890.12345679",
        "0.00000001",
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (buy_body(stop_loss="190"), 422, "INVALID_SIGNAL_LEVELS"),
        (sell_body(target_price="190"), 422, "INVALID_SIGNAL_LEVELS"),
        (buy_body(role="admin"), 422, "VALIDATION_ERROR"),
        (buy_body(entry_price="1.123456789"), 422, "VALIDATION_ERROR"),
        (buy_body(entry_price=-1), 422, "VALIDATION_ERROR"),
        (buy_body(confidence=1.5), 422, "VALIDATION_ERROR"),
        (buy_body(timeframe="2h"), 422, "VALIDATION_ERROR"),
        (buy_body(symbol="NOT A SYMBOL"), 422, "VALIDATION_ERROR"),
        (buy_body(expires_at="2000-01-01T00:00:00Z"), 422, "EXPIRY_IN_PAST"),
        # A decimal string is digits and a point, as the document's pattern says: nothing Decimal() would
        # also read (spaces, a sign, an exponent, underscores, another script's digits).
        (buy_body(entry_price=" 200"), 422, "VALIDATION_ERROR"),
        (buy_body(entry_price="+200"), 422, "VALIDATION_ERROR"),
        (buy_body(entry_price="2e2"), 422, "VALIDATION_ERROR"),
        (buy_body(entry_price="2_00"), 422, "VALIDATION_ERROR"),
        (buy_body(entry_price="\u0662\u0660\u0660"), 422, "VALIDATION_ERROR"),
        (buy_body(confidence="0.75 "), 422, "VALIDATION_ERROR"),
    ],
)
def test_create_rejects_bad_input_with_the_contracts_codes(db, body, status, code):
    investor = make_investor()
    reply = call(CREATE, investor, json_body=body)
    assert (reply.status, reply.error_code) == (status, code), reply.text
    assert call(LIST, investor).json["items"] == []


def test_malformed_json_is_400_and_no_token_is_401(db):
    investor = make_investor()
    assert call(CREATE, investor, body="{not json").error_code == "MALFORMED_JSON"
    anonymous = call(CREATE, None, json_body=buy_body())
    assert (anonymous.status, anonymous.error_code) == (401, "AUTHENTICATION_REQUIRED")


def test_validation_details_name_the_field_without_echoing_input(db):
    investor = make_investor()
    reply = call(CREATE, investor, json_body=buy_body(entry_price="secret-ish-value"))
    assert reply.status == 422
    assert [d["field"] for d in reply.json["error"]["details"]] == ["entry_price"]
    assert "secret-ish-value" not in reply.text


@pytest.mark.parametrize("route", ROUTES_WITH_ID, ids=lambda r: r[0])
def test_another_users_signal_answers_exactly_like_a_missing_one(db, route):
    owner, stranger = make_investor("owner"), make_investor("stranger")
    signal_id = create(owner)["id"]
    # When a stranger uses the owner's signal id, a random id, or a path segment that is no UUID
    replies = [call(route, stranger, sid, json_body=BODIES.get(route)) for sid in (signal_id, str(uuid.uuid4()))]
    replies.append(call(route, stranger, "analytics", json_body=BODIES.get(route)))
    # Then each gets the same 404 SIGNAL_NOT_FOUND
    assert [(r.status, r.error_code) for r in replies] == [(404, "SIGNAL_NOT_FOUND")] * 3
    assert replies[0].json["error"]["message"] == replies[1].json["error"]["message"]
    # And the owner's signal is unchanged
    after = call(GET, owner, signal_id).json
    assert (after["status"], after["notes"]) == ("OPEN", "earnings run-up")


def test_listing_and_analytics_cover_only_the_callers_signals(db):
    owner, stranger = make_investor("owner"), make_investor("stranger")
    create(owner)
    assert call(LIST, stranger).json == {"items": [], "next_cursor": None}
    assert call(ANALYTICS, stranger).json["total"] == 0
    assert call(ANALYTICS, owner).json["total"] == 1


@pytest.mark.parametrize("route", [CREATE, LIST, ANALYTICS, *ROUTES_WITH_ID], ids=lambda r: r[0])
def test_every_route_needs_a_bearer_token(db, route):
    signal_id = None if route in (CREATE, LIST, ANALYTICS) else str(uuid.uuid4())
    reply = call(route, None, signal_id, json_body=BODIES.get(route, buy_body() if route is CREATE else None))
    assert (reply.status, reply.error_code) == (401, "AUTHENTICATION_REQUIRED")
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


def test_update_close_delete_and_history_through_the_functions(db):
    investor = make_investor()
    signal_id = create(investor)["id"]
    headers = {"X-Correlation-ID": "signal-lifecycle-01"}
    # When the signal is updated, closed and then deleted
    updated = call(UPDATE, investor, signal_id, json_body={"target_price": 210, "stop_loss": None}, headers=headers)
    assert updated.status == 200, updated.text
    assert (updated.json["target_price"], updated.json["stop_loss"]) == ("210", None)
    closed = call(CLOSE, investor, signal_id, json_body={"exit_price": "196.6125"}, headers=headers)
    assert closed.status == 200, closed.text
    assert (closed.json["status"], closed.json["return_pct"], closed.json["exit_price"]) == (
        "CLOSED",
        "5.0000",
        "196.6125",
    )
    assert call(UPDATE, investor, signal_id, json_body={"notes": "late"}).error_code == "SIGNAL_NOT_OPEN"
    assert call(CLOSE, investor, signal_id, json_body={"exit_price": "1"}).status == 409
    # Then the history tells it all, oldest first, with actor and correlation ID
    items = call(HISTORY, investor, signal_id).json["items"]
    assert [i["action"] for i in items] == ["created", "updated", "closed"]
    assert {i["actor_id"] for i in items} == {str(investor.user_id)}
    assert [i["correlation_id"] for i in items[1:]] == ["signal-lifecycle-01"] * 2
    assert items[2]["changes"]["return_pct"] == {"from": None, "to": "5.0000"}
    assert parse_time(items[0]["at"]) <= parse_time(items[2]["at"])
    # And after delete, every route says 404
    deleted = call(DELETE, investor, signal_id)
    assert (deleted.status, deleted.text) == (204, "")
    for route in ROUTES_WITH_ID:
        assert call(route, investor, signal_id, json_body=BODIES.get(route)).status == 404
    assert stored_status(signal_id) == "CLOSED"


def test_patch_needs_something_to_change_and_rejects_unknown_fields(db):
    investor = make_investor()
    signal_id = create(investor)["id"]
    assert call(UPDATE, investor, signal_id, json_body={}).error_code == "VALIDATION_ERROR"
    assert call(UPDATE, investor, signal_id, json_body={"entry_price": "1"}).error_code == "VALIDATION_ERROR"
    assert call(UPDATE, investor, signal_id, json_body={"target_price": "150"}).error_code == "INVALID_SIGNAL_LEVELS"


def test_list_pages_with_opaque_tamper_evident_cursors(db):
    investor = make_investor()
    ids = [create(investor)["id"] for _ in range(5)]
    # When the investor lists two at a time
    first = call(LIST, investor, query={"limit": "2"}).json
    second = call(LIST, investor, query={"limit": "2", "cursor": first["next_cursor"]}).json
    third = call(LIST, investor, query={"limit": "2", "cursor": second["next_cursor"]}).json
    # Then the pages hold all five, newest first, and the last page says so
    listed = [s["id"] for page in (first, second, third) for s in page["items"]]
    assert len(listed) == 5
    assert sorted(listed) == sorted(ids)
    assert third["next_cursor"] is None
    created = [parse_time(s["created_at"]) for page in (first, second, third) for s in page["items"]]
    assert created == sorted(created, reverse=True)
    # And an edited cursor, garbage, or another user's cursor is 400 INVALID_CURSOR
    cursor = first["next_cursor"]
    edited = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    stranger = make_investor("stranger")
    for bad, who in ((edited, investor), ("garbage", investor), (cursor, stranger)):
        reply = call(LIST, who, query={"cursor": bad})
        assert (reply.status, reply.error_code) == (400, "INVALID_CURSOR")


@pytest.mark.parametrize(
    ("query", "field"),
    [({"limit": "0"}, "query.limit"), ({"limit": "101"}, "query.limit"), ({"direction": "HOLD"}, "query.direction"),
     ({"status": "open"}, "query.status"), ({"created_from": "yesterday"}, "query.created_from")],
)  # fmt: skip
def test_list_rejects_bad_query_parameters(db, query, field):
    reply = call(LIST, make_investor(), query=query)
    assert (reply.status, reply.error_code) == (422, "VALIDATION_ERROR")
    assert [d["field"] for d in reply.json["error"]["details"]] == [field]


def test_list_filters_by_effective_status(db):
    investor = make_investor()
    open_id = create(investor)["id"]
    overdue_id = create(investor, buy_body(expires_at=(utcnow() + timedelta(hours=1)).isoformat()))["id"]
    set_row(overdue_id, expires_at=utcnow() - timedelta(seconds=1))
    by_status = {
        status: [s["id"] for s in call(LIST, investor, query={"status": status}).json["items"]]
        for status in ("OPEN", "EXPIRED", "CLOSED")
    }
    assert by_status == {"OPEN": [open_id], "EXPIRED": [overdue_id], "CLOSED": []}
    assert call(GET, investor, overdue_id).json["status"] == "EXPIRED"


def test_analytics_path_is_not_taken_for_a_signal_id(db):
    investor = make_investor()
    create(investor)
    # The analytics function answers its own path
    analytics = call(ANALYTICS, investor)
    assert (analytics.status, analytics.json["total"]) == (200, 1)
    # And the single-signal function treats "analytics" as an id that names nothing: 404, never 500
    as_id = call(GET, investor, "analytics")
    assert (as_id.status, as_id.error_code) == (404, "SIGNAL_NOT_FOUND")


def test_scheduled_expiry_function_runs_on_its_sample_event(db):
    investor = make_investor()
    signal_id = create(investor, buy_body(expires_at=(utcnow() + timedelta(hours=1)).isoformat()))["id"]
    set_row(signal_id, expires_at=utcnow() - timedelta(minutes=1))
    event = json.loads((ROOT / "events/ExpireSignalsFunction.json").read_text())
    # When EventBridge invokes the expiry function with its scheduled event
    result = function_module("ExpireSignalsFunction").handler(
        event, LambdaContextStub(function_name="ExpireSignalsFunction", timeout_seconds=120)
    )
    # Then the overdue signal is stored EXPIRED, with the event id as the history's correlation ID
    assert result == {"expired": 1}
    assert stored_status(signal_id) == "EXPIRED"
    last = call(HISTORY, investor, signal_id).json["items"][-1]
    assert (last["action"], last["actor_id"], last["correlation_id"]) == ("expired", None, event["id"])
