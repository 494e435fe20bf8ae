"""Property: no value anywhere gets a 5xx (API.md, Conventions), on every database (SQLite, PostgreSQL, MariaDB).

Every route of template.yaml, driven through its function's handler, gets a request it accepts with one
value made hostile at a time: every parameter, header and body field the OpenAPI document and the
template name, plus the headers every route reads and an undocumented query parameter. The answer is
a 2xx or a 4xx in the error envelope (a VALIDATION_ERROR naming the field), with nothing logged at
ERROR. The values and the accepted requests: docs/security.md#every-value-of-every-route-property-test.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, cached_property
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from invest_dev.events import LambdaContextStub, http_event
from invest_dev.samples import SAMPLE_PASSWORD, load_event
from invest_dev.template import FunctionSpec, Route, http_functions
from investment_system.db.base import utcnow
from investment_system.db.engine import unit_of_work
from investment_system.http.envelope import ErrorBody, ErrorEnvelope
from investment_system.http.routing import openapi_document
from investment_system.models import User
from investment_system.schemas.auth import TokenPair
from investment_system.schemas.billing import CheckoutStarted
from investment_system.services.accounts.login_sessions import start_session
from investment_system.services.accounts.passwords import hash_password
from investment_system.services.billing.subscriptions import change_plan
from investment_system.services.billing.webhooks import sign
from investment_system.settings import get_settings
from tests.support.functions import Reply, function_module
from tests.support.signals import Investor, buy_body, create

# Generated values per target, on top of the explicit catalogue below.
GENERATED_EXAMPLES = 5


@dataclass(frozen=True)
class Raw:
    """A JSON literal sent as it is in a body (1e400 has no Python float); its text elsewhere."""

    text: str


@dataclass(frozen=True)
class NearMiss:
    """The good value of the target, twisted (the real id with a NUL after it, ...)."""

    name: str
    twist: Callable[[str], str] = field(compare=False)


Hostile = str | Raw | NearMiss

# Cyrillic letters drawn like Latin ones; fullwidth forms of ASCII.
_CYRILLIC = str.maketrans("aeopcxAEOPCX", "\u0430\u0435\u043e\u0440\u0441\u0445\u0410\u0415\u041e\u0420\u0421\u0425")
_FULLWIDTH = {code: code + 0xFEE0 for code in range(0x21, 0x7F)}

# The classes the contract names, each sent to every target.
CATALOGUE: list[Hostile] = [
    "\x00",
    "\x01\x08\x1b[2J\x7f\x85",
    "\u202eLPAA",
    "\u2066AAPL\u2069",
    "\u200bAAPL\ufeff",
    "\u00df",
    "\u0131bm",
    "\u0410\u0410\u0420L",  # Cyrillic A, A, P
    "\uff21\uff21\uff30\uff2c\uff11\uff12\uff13",
    "",
    " ",
    "x" * 10_000,
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59.999999Z",
    Raw("1e400"),
    Raw("-1e-400"),
    Raw(str(10**30)),
    Raw(str(-(2**63) - 1)),
    "1e400",
    "-1e-400",
    str(10**30),
    "NaN",
    Raw('"x\\ud800y"'),
    Raw("null"),
    Raw("true"),
    Raw("[]"),
    Raw('{"a": 1}'),
    NearMiss("with a NUL", lambda good: good + "\x00"),
    NearMiss("upper-cased", str.upper),
    NearMiss("lookalike", lambda good: good.translate(_CYRILLIC)),
    NearMiss("fullwidth", lambda good: good.translate(_FULLWIDTH)),
    NearMiss("zero-width inside", lambda good: good[:1] + "\u200d" + good[1:]),
    NearMiss("repeated", lambda good: good * 500),
]

_HOSTILE_CHARACTERS = "\x00\x01\t\n\r\x1b\x7f\x85\u00a0\u200b\u200d\u2028\u202a\u202e\u2066\u2069\ufeff\ufffd\uffff"
_LOOKALIKES = "".join(map(chr, _CYRILLIC.values())) + (
    "\u0131\u0130\u00df\u017f\u01c5\uff21\uff3a\uff10\uff19\u0661\u0662\U0001d7cf"
)


def _edge_datetime_text(moment: datetime, offset_minutes: int, zulu: bool) -> str:
    text = moment.isoformat()
    if zulu:
        return text + "Z"
    sign = "-" if offset_minutes < 0 else "+"
    return f"{text}{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"


def _generated() -> st.SearchStrategy[Hostile]:
    """Hostile values hypothesis makes up: text of hostile and lookalike characters, range-edge date-times,
    numbers of any size, any JSON (a literal in a body, its text elsewhere)."""
    characters = st.characters(exclude_categories=("Cs",))
    text = st.text(st.one_of(st.sampled_from(_HOSTILE_CHARACTERS + _LOOKALIKES), characters), max_size=40)
    edges = st.one_of(
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(1, 1, 2)),
        st.datetimes(min_value=datetime(9999, 12, 30), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)),
    )
    date_times = st.builds(_edge_datetime_text, edges, st.integers(-1439, 1439), st.booleans())
    numbers = st.one_of(
        st.integers(-(10**40), 10**40).map(str),
        st.builds(lambda mantissa, exponent: f"{mantissa}e{exponent}", st.integers(-99, 99), st.integers(-500, 500)),
        st.floats().map(repr),
    )
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=6,
    )
    return st.one_of(text, date_times, numbers, numbers.map(Raw), json_values.map(lambda value: Raw(json.dumps(value))))


# What any request may carry, whatever the route's document says: headers every route reads, and the name
# of a query parameter (its value "1").
QUERY_NAME = "query parameter name"
EXTRAS = ("X-Correlation-ID", "Authorization", "Content-Type", "If-Match", "If-None-Match", "Origin", QUERY_NAME)


@dataclass(frozen=True)
class Target:
    """One value a request to a route carries: a query, path or header parameter, or a body field."""

    spec: FunctionSpec
    route: Route
    operation: dict[str, Any] = field(compare=False, hash=False)
    location: str  # query, path, header, body; "extra" for one of EXTRAS, drawn per example
    name: tuple[str, ...]  # a body field's path; one element otherwise

    @property
    def id(self) -> str:
        return f"{self.spec.name}:{self.route.method} {self.route.path}:{self.location}:{'.'.join(self.name)}"


@cache
def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(openapi_document())
    return document


def _resolved(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = _document()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    """The fields of an object schema, or of the object among the choices of an anyOf (a nullable object)."""
    schema = _resolved(schema)
    choices = [_resolved(choice) for choice in schema.get("anyOf", [])]
    return next((s["properties"] for s in (schema, *choices) if "properties" in s), {})


def _body_fields(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every field of a body schema, and the fields of the objects it nests."""
    fields = []
    for name, field_schema in _properties(schema).items():
        fields.append((*prefix, name))
        fields.extend(_body_fields(field_schema, (*prefix, name)))
    return fields


def _targets() -> list[Target]:
    targets = []
    for spec in http_functions():
        for route in spec.routes:
            operation = _document()["paths"].get(route.path, {}).get(route.method.lower(), {})
            documented = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
            placeholders = {("path", name) for name in re.findall(r"\{([^}+]+)\+?\}", route.path)}
            if route.is_default:
                placeholders.add(("path", "$default"))
            for location, name in sorted(documented | placeholders):
                targets.append(Target(spec, route, operation, location, (name,)))
            body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            for body_field in _body_fields(body_schema) if body_schema else []:
                targets.append(Target(spec, route, operation, "body", body_field))
            targets.append(Target(spec, route, operation, "extra", ("undocumented",)))
    return targets


TARGETS = _targets()

# Good values for a route's path placeholders; the routes' other good values come from their sample events.
GOOD_PATH_VALUES = {"asset": "swagger-ui.min.css", "$default": "/v1/portfolio"}
# Answers after which the caller and what they own are as they were: reused for the next request.
UNCHANGED_STATUSES = frozenset({400, 404, 405, 412, 413, 415, 422})


@cache
def _password_hash() -> str:
    return hash_password(SAMPLE_PASSWORD)


def _new_user(role: str) -> tuple[User, TokenPair]:
    with unit_of_work() as session:
        user = User(email=f"{role}-{uuid.uuid4().hex}@example.com", password_hash=_password_hash(), role=role)
        session.add(user)
        session.flush()
        session.expunge(user)
        return user, start_session(session, user, now=utcnow())


class Caller:
    """Who sends a request and what of theirs it names: a new user with fresh tokens, their signal, their
    checkout, an administrator; each made when first needed."""

    def __init__(self) -> None:
        user, tokens = _new_user("user")
        self.user_id = user.id
        self.email = user.email
        self.access_token = tokens.access_token
        self.refresh_token = tokens.refresh_token

    @cached_property
    def admin_token(self) -> str:
        return _new_user("admin")[1].access_token

    @cached_property
    def signal_id(self) -> str:
        return str(create(Investor(self.user_id, self.access_token), buy_body())["id"])

    @cached_property
    def checkout(self) -> dict[str, Any]:
        started = change_plan(None, self.user_id, "pro")
        assert isinstance(started, CheckoutStarted)
        return started.checkout.model_dump(mode="json")


@dataclass
class Request:
    """The parts of a request a route accepts, before one is made hostile."""

    path: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any] | None


def _good_request(target: Target, caller: Caller) -> Request:
    """A request the route accepts: its sample event's query and body, with the caller's ids and tokens."""
    spec, route, operation = target.spec, target.route, target.operation
    sample = load_event(spec)
    own_sample = sample.get("routeKey") == ("$default" if route.is_default else f"{route.method} {route.path}")
    headers = {"content-type": "application/json"}
    if operation.get("security"):
        token = caller.admin_token if route.path.startswith("/v1/admin") else caller.access_token
        headers["authorization"] = f"Bearer {token}"
    if any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])):
        headers["idempotency-key"] = uuid.uuid4().hex
    path = {}
    for name in re.findall(r"\{([^}+]+)\+?\}", route.path) + (["$default"] if route.is_default else []):
        path[name] = {"id": lambda: caller.signal_id, "user_id": lambda: str(caller.user_id)}.get(
            name, lambda name=name: GOOD_PATH_VALUES[name]
        )()
    body = json.loads(sample["body"]) if own_sample and sample.get("body") else None
    if body is not None:
        _with_callers_values(route, body, caller)
    return Request(path, dict(sample.get("queryStringParameters") or {}) if own_sample else {}, headers, body)


def _with_callers_values(route: Route, body: dict[str, Any], caller: Caller) -> None:
    """The sample body's placeholders, sample accounts and sample payment replaced by the caller's."""
    if "email" in body:
        body["email"] = caller.email if route.path == "/v1/auth/login" else f"new-{uuid.uuid4().hex}@example.com"
    for name in ("password", "current_password"):
        if name in body and route.path != "/v1/auth/register":
            body[name] = SAMPLE_PASSWORD
    if "refresh_token" in body:
        body["refresh_token"] = caller.refresh_token
    data = body.get("data")
    if isinstance(data, dict) and "user_id" in data:  # the payment provider's event, paying the caller's checkout
        body["id"] = f"evt_{uuid.uuid4().hex}"
        data["user_id"] = str(caller.user_id)
        for name in data.keys() & {"checkout_id", *caller.checkout}:
            data[name] = caller.checkout["id" if name == "checkout_id" else name]
        if "period_end" in data:
            data["period_end"] = (utcnow() + timedelta(days=30)).isoformat()


_SLOT = "\ue000hostile\ue000"


def _good_value(target: Target, request: Request, extra: str) -> str:
    """What the target holds in the good request (a near miss twists it); for a query parameter's name, the
    name of one the route has."""
    name = target.name[-1]
    if target.location == "path":
        return request.path[name]
    if target.location == "query":
        return request.query.get(name, "AAPL")
    if target.location == "extra" and extra == QUERY_NAME:
        parameters = target.operation.get("parameters", [])
        return next((p["name"] for p in parameters if p["in"] == "query"), "limit")
    if target.location in ("header", "extra"):
        return request.headers.get((name if target.location == "header" else extra).lower(), "sample-0001")
    holder: Any = request.body or {}
    for part in target.name:
        holder = holder.get(part) if isinstance(holder, dict) else None
    return holder if isinstance(holder, str) else json.dumps(holder)


def _send(target: Target, caller: Caller, hostile: Hostile | None, extra: str = "") -> tuple[Reply, str]:
    """The route's good request with the target's value made hostile (None: as it is); the reply and the
    value as sent."""
    request = _good_request(target, caller)
    if hostile is None:
        body = json.dumps(request.body) if request.body is not None else None
        return _invoke(target, _signed(target, request, body), body), ""
    if isinstance(hostile, NearMiss):
        hostile = hostile.twist(_good_value(target, request, extra))
    text = hostile.text if isinstance(hostile, Raw) else hostile
    literal = hostile.text if isinstance(hostile, Raw) else json.dumps(hostile)
    name = target.name[-1]
    if target.location == "path":
        request.path[name] = text
    elif target.location == "query":
        request.query[name] = text
    elif target.location == "header":
        request.headers[name.lower()] = text
    elif target.location == "extra" and extra == QUERY_NAME:
        request.query[text] = "1"
    elif target.location == "extra":
        request.headers[extra.lower()] = text
    body_text = None
    if request.body is not None or target.location == "body":
        body = request.body if request.body is not None else {}
        if target.location == "body":
            holder = body
            for part in target.name[:-1]:
                holder = holder.setdefault(part, {}) if isinstance(holder.get(part, {}), dict) else {}
            holder[name] = _SLOT
        body_text = json.dumps(body).replace(json.dumps(_SLOT), literal)
    if target.location != "header":  # signed, unless the signature is what is hostile
        request = _signed(target, request, body_text)
    return _invoke(target, request, body_text), literal


def _signed(target: Target, request: Request, body: str | None) -> Request:
    """The request with the payment provider's signature of its body, on a route that checks one."""
    if any(p["in"] == "header" and p["name"] == "X-Signature" for p in target.operation.get("parameters", [])):
        timestamp = int(time.time())
        secret = get_settings().security.payment_webhook_secret
        request.headers["x-signature"] = f"t={timestamp},v1={sign(secret, timestamp, (body or '').encode())}"
    return request


def _invoke(target: Target, request: Request, body: str | None) -> Reply:
    route = target.route
    if route.is_default:
        raw_path = quote(request.path["$default"], safe="/")
        path_parameters = None
    else:
        raw_path = route.path
        for name, value in request.path.items():
            raw_path = raw_path.replace(f"{{{name}}}", quote(value, safe=""))
        path_parameters = request.path or None
    event = http_event(
        "GET" if route.method == "ANY" else route.method,
        raw_path,
        route_key="$default" if route.is_default else f"{route.method} {route.path}",
        headers=request.headers,
        query=request.query,
        path_parameters=path_parameters,
        body=body,
    )
    handler = function_module(target.spec.name).handler
    return Reply(handler(event, LambdaContextStub(function_name=target.spec.name)))


def _names_the_field(target: Target, extra: str, details: list[dict[str, Any]]) -> bool:
    """Whether a VALIDATION_ERROR names the target (`symbol`, `data.period_end`, `query.<name>`,
    `path.<name>`, `header.<name>`), a field inside it, or what holds it (a rule on the whole body, such as
    "give role or is_active", names `body`; a hostile query parameter name is named `query`)."""
    if target.location == "extra":
        wanted: tuple[str, ...] = ("query",) if extra == QUERY_NAME else ("header", extra.lower())
    elif target.location == "header":
        wanted = ("header", target.name[0].lower())
    else:
        wanted = (target.location, *target.name)
    named = [tuple(detail["field"].split(".")) for detail in details]
    if target.location == "body":
        named = [field if field[0] == "body" else ("body", *field) for field in named]
    return any(field[: len(wanted)] == wanted or wanted[: len(field)] == field for field in named)


def _with_catalogue(test: Callable[..., None]) -> Callable[..., None]:
    """Every value of the catalogue is an explicit example (the "extra" target cycles through EXTRAS)."""
    for index, value in enumerate(CATALOGUE):
        test = example(hostile=value, extra=EXTRAS[index % len(EXTRAS)])(test)
    return test


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS, ids=[target.id for target in TARGETS])
def test_no_hostile_value_gets_a_5xx(target, db, json_logs, settings_env):
    settings_env.setenv("RATE_LIMIT_ENABLED", "false")  # many requests from one address; limits have their tests
    # The route accepts the request as it is: what the hostile value breaks is what gets judged
    good, _ = _send(target, Caller(), None)
    assert good.status < 300 or target.route.is_default, f"{target.id}: {good.status} {good.text[:300]}"
    callers: list[Caller] = []

    @_with_catalogue
    @settings(max_examples=GENERATED_EXAMPLES, deadline=None, derandomize=True, database=None)
    @given(hostile=_generated(), extra=st.sampled_from(EXTRAS))
    def a_hostile_value(hostile: Hostile, extra: str) -> None:
        # Given a user, and the rest of the request one the route accepts
        if not callers:
            callers.append(Caller())
        logged_before = len(json_logs())
        # When one value of it is hostile
        reply, sent = _send(target, callers[0], hostile, extra)
        where = f"{target.id} = {sent[:120]}" + (f" ({extra})" if target.location == "extra" else "")
        if not (reply.status in UNCHANGED_STATUSES or (target.route.method == "GET" and reply.status < 300)):
            callers.clear()  # the request may have changed the caller (logged out, closed the signal...)
        # Then the answer is a 2xx or a 4xx
        assert 200 <= reply.status < 300 or 400 <= reply.status < 500, f"{where}: {reply.status} {reply.text[:300]}"
        # And a 4xx is the error envelope; a VALIDATION_ERROR names the field
        if reply.status >= 400:
            assert reply.json is not None, where
            assert set(reply.json["error"]) == set(ErrorBody.model_fields), where
            ErrorEnvelope.model_validate(reply.json)
            if reply.error_code == "VALIDATION_ERROR":
                assert _names_the_field(target, extra, reply.json["error"]["details"]), f"{where}: {reply.text[:300]}"
        # And nothing was logged as an error
        errors = [entry for entry in json_logs()[logged_before:] if entry["level"] == "ERROR"]
        assert errors == [], f"{where}: {errors}"

    a_hostile_value()
