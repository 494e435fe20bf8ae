"""Values that must get a 4xx naming their field, never a 5xx, through the functions' handlers (issue 23):
date-times at the edge of the representable range, control characters in query and path parameters,
free text with control or bidirectional characters, symbols that only case mapping would make ASCII,
over-long email local parts, huge and tiny numbers, and the Content-Type of a body route.

On SQLite, PostgreSQL and MariaDB (`db`): PostgreSQL is where a NUL that reached a query gave a 500.
"""

import copy
import json

import pytest

from invest_dev.events import LambdaContextStub, websocket_event
from invest_dev.samples import load_event, seed_sample_users, with_fresh_token
from invest_dev.template import http_functions
from investment_system.http.routing import openapi_document
from tests.support.accounts import register
from tests.support.billing import signature
from tests.support.functions import Reply, function_module
from tests.support.signals import (
    ANALYTICS,
    CLOSE,
    CREATE,
    GET,
    HISTORY,
    LIST,
    UPDATE,
    buy_body,
    call,
    create,
    make_investor,
)

EDGE_DATE_TIMES = [
    "0001-01-01T00:00:00+01:00",  # its UTC conversion is before year 1: OverflowError
    "9999-12-31T23:59:59-01:00",  # after year 9999
    "0001-01-01T00:00:00Z",  # the very edge, where a day's arithmetic would overflow
    "9999-12-31T23:59:59.999999Z",
]


def _field(reply: Reply) -> list[str]:
    return [detail["field"] for detail in reply.json["error"]["details"]]


@pytest.mark.parametrize("value", EDGE_DATE_TIMES)
@pytest.mark.parametrize(
    ("route", "parameter"),
    [(LIST, "created_from"), (LIST, "created_to"), (ANALYTICS, "created_from"), (ANALYTICS, "created_to")],
)
def test_a_filter_date_time_at_the_edge_of_the_range_is_422_naming_it(db, route, parameter, value):
    # Given an investor
    investor = make_investor()
    # When they filter by a date-time at the edge of what a date-time can hold, with or without an offset
    reply = call(route, investor, query={parameter: value})
    # Then it is refused naming the parameter, not a 500 OverflowError
    assert reply.status == 422, reply.text
    assert _field(reply) == [f"query.{parameter}"]


@pytest.mark.parametrize("value", EDGE_DATE_TIMES)
def test_an_expiry_at_the_edge_of_the_range_is_422_naming_it_on_create_and_update(db, value):
    # Given an investor with an open signal
    investor = make_investor()
    signal = create(investor)
    # When they create one, or update theirs, with an expiry at the edge of the range
    created = call(CREATE, investor, json_body=buy_body(expires_at=value))
    updated = call(UPDATE, investor, signal["id"], json_body={"expires_at": value})
    # Then both are refused naming expires_at
    assert (created.status, _field(created)) == (422, ["expires_at"]), created.text
    assert (updated.status, _field(updated)) == (422, ["expires_at"]), updated.text


def test_date_times_inside_the_range_are_taken_in_utc(db):
    # Given an investor
    investor = make_investor()
    # When they filter from the start of year 2 and up to the end of year 9998, in offsets that stay inside
    page = call(LIST, investor, query={"created_from": "0002-01-01T01:00:00+01:00", "created_to": "9998-12-31T22:00Z"})
    # And give an expiry far ahead with an offset
    created = call(CREATE, investor, json_body=buy_body(expires_at="9998-12-31T23:00:00-00:30"))
    # Then each is served, the expiry kept in UTC
    assert page.status == 200, page.text
    assert created.status == 201, created.text
    assert created.json["expires_at"] == "9998-12-31T23:30:00Z"


@pytest.mark.parametrize(
    ("route", "query"),
    [
        (LIST, {"strategy": "\x00"}),
        (LIST, {"strategy": "break\x00out"}),
        (ANALYTICS, {"strategy": "\x00"}),
        (LIST, {"cursor": "abc\x00"}),
        (LIST, {"symbol": "AAPL\x00"}),
        (LIST, {"limit": "1\x00"}),
        (LIST, {"strategy": "a\nb"}),
        (LIST, {"strategy": "\x7f"}),
        (LIST, {"strategy": "\x85"}),
    ],
    ids=repr,
)
def test_a_control_character_in_a_query_parameter_is_422_naming_it(db, route, query):
    # Given an investor with a signal
    investor = make_investor()
    create(investor)
    # When a query parameter holds a NUL or another control character
    reply = call(route, investor, query=query)
    # Then it is refused naming the parameter, before any query reaches the database
    assert reply.status == 422, reply.text
    assert _field(reply) == [f"query.{next(iter(query))}"]


def test_a_control_character_in_a_query_parameters_name_is_422(db):
    investor = make_investor()
    # When a query parameter's name holds a NUL
    reply = call(LIST, investor, query={"strategy\x00": "x"})
    # Then the query is refused, the name not echoed
    assert (reply.status, _field(reply)) == (422, ["query"])


@pytest.mark.parametrize("route", [GET, UPDATE, CLOSE, HISTORY])
def test_a_control_character_in_a_path_parameter_is_422_naming_it(db, route):
    # Given an investor
    investor = make_investor()
    body = {UPDATE: {"notes": "x"}, CLOSE: {"exit_price": "1"}}.get(route)
    # When a signal id in the path holds a NUL
    reply = call(route, investor, "0b0f6c1e-4a59-4e0a-9d36-2f4f8c2b7a10\x00", json_body=body)
    # Then it is refused naming the path parameter
    assert (reply.status, _field(reply)) == (422, ["path.id"]), reply.text


def test_an_anonymous_caller_is_told_401_before_anything_about_its_parameters(db):
    # When a caller without a token sends a NUL in a filter
    reply = call(LIST, None, query={"strategy": "\x00"})
    # Then it is 401, as for any other request without a token
    assert reply.status == 401


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Idempotency-Key", "\ud800"),
        ("Idempotency-Key", "key\x00"),
        ("Authorization", "Bearer \udfff"),
        ("If-Match", '"v1"\n'),
        ("X-Correlation-ID", "cid\x1b[2J-00000"),
    ],
    ids=repr,
)
def test_a_header_with_a_character_http_does_not_allow_is_422_naming_it(db, header, value):
    # Given an investor (and a hand-made event: no HTTP request can carry these characters in a header)
    investor = make_investor()
    headers = {**investor.headers, header: value}
    # When a signal is posted with a control character or an unpaired surrogate in a header
    reply = call(CREATE, None, json_body=buy_body(), headers=headers)
    # Then it is refused naming the header, not a 500 from encoding it
    assert (reply.status, _field(reply)) == (422, [f"header.{header.lower()}"]), reply.text


def test_a_tab_and_obs_text_in_a_header_are_allowed(db):
    investor = make_investor()
    reply = call(CREATE, investor, json_body=buy_body(), headers={"Idempotency-Key": "key\twith tab \x85"})
    assert reply.status == 201, reply.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("strategy", "break\x07out"),
        ("strategy", "break\tout"),
        ("strategy", "breakout\u202e"),
        ("strategy", "\u2066breakout\u2069"),
        ("notes", "earnings\x00"),
        ("notes", "earnings\x1b[31m"),
        ("notes", "earnings \u202dnur"),
        ("notes", "earnings\x9b"),
    ],
    ids=repr,
)
def test_free_text_with_a_control_or_bidirectional_character_is_422_naming_it(db, field, value):
    investor = make_investor()
    # When a signal's free text holds a control character or a bidirectional override or isolate
    reply = call(CREATE, investor, json_body=buy_body(**{field: value}))
    # Then it is refused naming the field
    assert (reply.status, _field(reply)) == (422, [field]), reply.text


def test_notes_keep_tabs_and_line_breaks(db):
    investor = make_investor()
    # When notes run over lines, with a tab
    reply = call(CREATE, investor, json_body=buy_body(notes="entry:\t187\r\nexit:\t200\n"))
    # Then they are kept as written
    assert reply.status == 201, reply.text
    assert reply.json["notes"] == "entry:\t187\r\nexit:\t200\n"


@pytest.mark.parametrize("full_name", ["Ada\x00", "Ada\nLovelace", "\u202eecalevoL adA", "Ada\u2068"], ids=repr)
def test_a_full_name_with_a_control_or_bidirectional_character_is_422(db, full_name):
    # When someone registers with such a name
    reply = register("ada@example.com", full_name=full_name)
    # Then it is refused naming full_name, and no account is made
    assert (reply.status, _field(reply)) == (422, ["full_name"]), reply.text
    assert register("ada@example.com", full_name="Ada Lovelace").status == 201


@pytest.mark.parametrize(
    "symbol", ["\u00df", "\u0131bm", "\uff21\uff21\uff30\uff2c", "aapl\u0131", "\x1faapl"], ids=repr
)
def test_a_symbol_that_only_case_mapping_would_make_ascii_is_422_in_body_and_query(db, symbol):
    investor = make_investor()
    # When a symbol holds a letter outside ASCII (which str.upper() maps onto ASCII: U+00DF to SS, U+0131 to I)
    created = call(CREATE, investor, json_body=buy_body(symbol=symbol))
    listed = call(LIST, investor, query={"symbol": symbol})
    # Then it is refused, in a body and in a filter, never stored as another symbol
    assert (created.status, _field(created)) == (422, ["symbol"]), created.text
    assert (listed.status, _field(listed)) == (422, ["query.symbol"]), listed.text


def test_an_ascii_symbol_is_trimmed_and_upper_cased(db):
    investor = make_investor()
    created = call(CREATE, investor, json_body=buy_body(symbol="  brk.b "))
    assert (created.status, created.json["symbol"]) == (201, "BRK.B"), created.text
    listed = call(LIST, investor, query={"symbol": "brk.b"})
    assert [item["symbol"] for item in listed.json["items"]] == ["BRK.B"]


def test_an_email_local_part_over_64_characters_is_422(db):
    # When someone registers with a local part of 65 characters, and another with one of 64
    too_long = register(f"{'a' * 65}@example.com")
    longest = register(f"{'a' * 64}@example.com")
    # Then the first is refused naming email, and the second is an account
    assert (too_long.status, _field(too_long)) == (422, ["email"]), too_long.text
    assert longest.status == 201, longest.text


@pytest.mark.parametrize(
    ("literal", "field"),
    [
        ('"confidence": 1e-400', "confidence"),
        ('"confidence": 1e+400', "confidence"),
        ('"entry_price": 1e+400', "entry_price"),
        ('"entry_price": "1e+400"', "entry_price"),
        ('"stop_loss": 1e-400', "stop_loss"),
        ('"entry_price": ' + "9" * 99, "entry_price"),
        ('"entry_price": "NaN"', "entry_price"),
        ('"entry_price": "-Infinity"', "entry_price"),
    ],
)
def test_huge_and_tiny_numbers_are_422_naming_them(db, literal, field):
    investor = make_investor()
    body = json.dumps(buy_body(**{field: None}))[:-1] + ", " + literal + "}"
    body = body.replace(f'"{field}": null, ', "")
    # When a signal is posted with a number far outside what its field holds
    reply = call(CREATE, investor, body=body)
    # Then it is refused naming the field
    assert (reply.status, _field(reply)) == (422, [field]), reply.text


@pytest.mark.parametrize("limit", ["99999999999999999999", "9" * 5000, "-99999999999999999999", "1e3"])
def test_a_huge_page_size_is_422_naming_it(db, limit):
    reply = call(LIST, make_investor(), query={"limit": limit})
    assert (reply.status, _field(reply)) == (422, ["query.limit"]), reply.text


# Content-Type, for every route that takes a body: found from the bundled OpenAPI document.
_BODY_ROUTES = {
    f"{method.upper()} {path}"
    for path, operations in json.loads(openapi_document())["paths"].items()
    for method, operation in operations.items()
    if "requestBody" in operation
}
BODY_FUNCTIONS = [spec for spec in http_functions() if load_event(spec)["routeKey"] in _BODY_ROUTES]


def _sample_event(spec, content_type: str | None) -> dict:
    """The function's sample event, signed in (or signed, for the webhook), with this Content-Type."""
    event = copy.deepcopy(with_fresh_token(load_event(spec), seed_sample_users()))
    headers = {name: value for name, value in event["headers"].items() if name.lower() != "content-type"}
    if "x-signature" in headers:
        headers["x-signature"] = signature(event["body"])
    if content_type is not None:
        headers["Content-Type"] = content_type
    event["headers"] = headers
    return event


def _serve(spec, event: dict) -> Reply:
    return Reply(function_module(spec.name).handler(event, LambdaContextStub(function_name=spec.name)))


def test_every_route_that_takes_a_body_is_found_and_its_sample_event_says_json():
    assert len(BODY_FUNCTIONS) == len(_BODY_ROUTES) >= 12
    for spec in BODY_FUNCTIONS:
        headers = {name.lower(): value for name, value in load_event(spec)["headers"].items()}
        assert headers.get("content-type") == "application/json", f"events/{spec.name}.json"


@pytest.mark.parametrize(
    "content_type", ["Application/JSON", "application/json; charset=UTF-8", "APPLICATION/X.A+JSON"]
)
@pytest.mark.parametrize("spec", BODY_FUNCTIONS, ids=[spec.name for spec in BODY_FUNCTIONS])
def test_a_body_route_reads_json_in_any_letter_case_and_any_json_suffix(db, spec, content_type):
    # Given a body route's sample event
    # When it says its body is JSON in another letter case, with a parameter, or as application/<x>+json
    reply = _serve(spec, _sample_event(spec, content_type))
    # Then the body is read as JSON: neither 415 nor a body said to be missing, and no 5xx
    assert reply.status != 415, reply.text
    assert reply.status < 500, reply.text
    assert "body" not in (_field(reply) if reply.status == 422 else []), reply.text


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/x-www-form-urlencoded", "text/json"])
@pytest.mark.parametrize("spec", BODY_FUNCTIONS, ids=[spec.name for spec in BODY_FUNCTIONS])
def test_a_body_route_answers_415_to_a_missing_or_other_content_type(db, spec, content_type):
    # Given a body route's sample event, its body JSON
    # When its Content-Type is missing or names another type
    reply = _serve(spec, _sample_event(spec, content_type))
    # Then it is 415 UNSUPPORTED_MEDIA_TYPE
    assert (reply.status, reply.error_code) == (415, "UNSUPPORTED_MEDIA_TYPE"), reply.text


@pytest.mark.parametrize("spec", BODY_FUNCTIONS, ids=[spec.name for spec in BODY_FUNCTIONS])
def test_a_body_route_called_with_no_body_and_no_content_type_is_415(db, spec):
    # Given a body route's sample event without its body and its Content-Type (a webhook's signed as such)
    event = _sample_event(spec, None)
    event.pop("body")
    event.pop("isBase64Encoded", None)
    if "x-signature" in event["headers"]:
        event["headers"]["x-signature"] = signature("")
    # When it is served
    reply = _serve(spec, event)
    # Then it is 415 too, not a 422 saying the body is missing
    assert (reply.status, reply.error_code) == (415, "UNSUPPORTED_MEDIA_TYPE"), reply.text


@pytest.mark.parametrize("query", [{"ticket": "\ud800"}, {"ticket": "t\x00"}, {"ticket": "t", "last_event_id": "\x1b"}])
def test_a_stream_handshake_with_a_control_character_in_its_query_is_refused_naming_it(db, query):
    # When a WebSocket handshake's query holds an unpaired surrogate or a control character
    event = websocket_event("$connect", "connection-1", query=query)
    reply = function_module("StreamConnectFunction").handler(event, LambdaContextStub("StreamConnectFunction"))
    # Then the handshake is refused with 422 naming the parameter (the surrogate was a 500 from hashing it)
    body = json.loads(reply["body"])
    assert (reply["statusCode"], [d["field"] for d in body["error"]["details"]]) == (422, [f"query.{list(query)[-1]}"])
