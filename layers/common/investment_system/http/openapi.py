"""The API's OpenAPI document: the parts Powertools generates for each function, merged and completed.

`build_document` merges each function's routes and adds, here and nowhere else, what the shared
plumbing does for every route: the envelope's error responses (and 401/403, 413/415, 429, 304/412 where they
apply), the RateLimit-*, Retry-After, WWW-Authenticate, Idempotent-Replayed, ETag and X-Correlation-ID
headers, `security: []` where no token is taken, the contract's header spelling, `x-enum-varnames`,
the info, tags and security scheme. Handlers import only `error_responses` (through
`investment_system.http`); the rest runs when the document is generated, never in a function.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from enum import Enum
from http import HTTPStatus
from typing import Any

from investment_system.http.envelope import ErrorEnvelope

COMPONENT_SCHEMAS = "#/components/schemas/"
_ENVELOPE_REF = COMPONENT_SCHEMAS + "ErrorEnvelope"
# Powertools documents its own validation errors; every error of this API has the envelope instead.
_POWERTOOLS_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")

TITLE = "Investment System API"
DESCRIPTION = (
    "Users, trading signals with analytics, and billing with plan quotas.\n\n"
    'Every error has the body `{"error": {code, message, details, correlation_id, timestamp}}`. Every response '
    "carries X-Correlation-ID, Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, "
    "Referrer-Policy and Content-Security-Policy; responses under /v1/auth, /v1/users, /v1/admin and "
    "/v1/billing also carry `Cache-Control: no-store`. Prices are decimal strings in responses; requests "
    "accept a JSON number or a decimal string. Timestamps are ISO-8601, in UTC."
)
TAGS = [
    {"name": "Health", "description": "Whether the API and its dependencies are up."},
    {"name": "Auth", "description": "Accounts and sessions: sign up, log in, rotate and revoke tokens."},
    {"name": "Users", "description": "Your own profile and password."},
    {"name": "Admin", "description": "Users' roles and activation, for administrators."},
    {
        "name": "Signals",
        "description": "Your trading signals: create, list, change, close and delete them; their history "
        "and statistics.",
    },
    {
        "name": "Billing",
        "description": "The plans, your subscription, your usage of its quotas, and the payment provider's webhook.",
    },
    {
        "name": "Stream",
        "description": "Real-time changes to your signals and subscription over a WebSocket "
        "(wss://…/v1/stream): a ticket to connect with.",
    },
]
BEARER_SCHEME_NAME = "bearerAuth"
BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "An access token from POST /v1/auth/login or /v1/auth/refresh.",
}

# The response headers the plumbing sends, as the document's reusable header components.
HEADERS: dict[str, dict[str, Any]] = {
    "X-Correlation-ID": {
        "description": "The request's correlation ID: the caller's X-Correlation-ID when it matches "
        "`^[A-Za-z0-9._:-]{8,128}$`, else a new one. Every log line and error body of the request carries it.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{8,128}$"},
    },
    "RateLimit-Limit": {
        "description": "Requests allowed in any 60 seconds: your plan's requests_per_minute, or the "
        "per-client-IP limit on routes that take no token. Absent when the limiter is unavailable.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Remaining": {
        "description": "Requests left now.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Reset": {
        "description": "Seconds until the oldest request counted leaves the 60-second window, that is until "
        "another request can be admitted once none is left.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    },
    # A 503 carries Retry-After only when the request failed before anything was committed (safe to retry).
    "Retry-After-If-Safe": {
        "description": "Seconds to wait before trying again; sent only when the request failed before anything "
        "was committed, so that repeating it is safe.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "WWW-Authenticate": {
        "description": "The authentication scheme the API expects: Bearer.",
        "required": True,
        "schema": {"type": "string", "examples": ['Bearer realm="invest"']},
    },
    "ETag": {
        "description": "The version of the resource this answer shows, a strong entity tag. Send it back in "
        "If-None-Match to get 304 while the resource is unchanged, or in If-Match to change only that version.",
        "required": True,
        "schema": {"type": "string", "examples": ['"3"']},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored response of an earlier request with the same "
        "Idempotency-Key and body: nothing was done a second time.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
# The routes served beside the document (the docs themselves), for the catch-all's 404/405 (http/routing.py).
UNDOCUMENTED_ROUTES = "x-undocumented-routes"
_RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
# What the request plumbing refuses in any value, as the pattern of each text of a request that has none
# (nor a format or enum): a NUL in a body's strings (http/request_body.py), a control character in a query
# or path parameter, one HTTP does not allow in a header (http/request_parameters.py).
_TEXT_PATTERNS = {
    "body": "^[^\\x00]*$",
    "query": "^[^\\x00-\\x1f\\x7f-\\x9f]*$",
    "path": "^[^\\x00-\\x1f\\x7f-\\x9f]*$",
    "header": "^[^\\x00-\\x08\\x0a-\\x1f\\x7f]*$",
}


# The operations on one signal: a response that gives a signal's id links to each of them, so that clients
# and stateful testing follow create -> read -> update -> close -> history -> delete from it.
SIGNAL_OPERATIONS = ("getSignal", "updateSignal", "closeSignal", "getSignalHistory", "deleteSignal")
# Those that take If-Match.
CONDITIONAL_CHANGES = ("updateSignal", "closeSignal", "deleteSignal")


def links(
    operation_ids: tuple[str, ...],
    *,
    request_body: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    **parameters: str,
) -> dict[str, Any]:
    """A response's OpenAPI `links`: to each operation, its path parameters, header parameters and body taken
    from this exchange by runtime expressions (`id="$response.body#/id"`, `headers={"If-Match":
    "$response.header.ETag"}`, `request_body={"email": "$request.body#/email"}`)."""
    values = parameters | {f"header.{name}": value for name, value in (headers or {}).items()}
    link: dict[str, Any] = {"parameters": values} if values else {}
    link |= {"requestBody": request_body} if request_body else {}
    return {
        operation_id[0].upper() + operation_id[1:]: {"operationId": operation_id, **link}
        for operation_id in operation_ids
    }


def error_responses(*statuses: int) -> dict[int, Any]:
    """A route's `responses` entries for the errors it answers itself (404, 409, 423...), with the envelope.

    The errors every route of a kind can answer are added to the document by `build_document`."""
    return {status: _error_response(status, {"model": ErrorEnvelope}) for status in sorted(statuses)}


def _error_response(status: int, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": HTTPStatus(status).phrase, "content": {"application/json": schema}}


def document_part(app: Any) -> dict[str, Any]:
    """The OpenAPI document of one function's resolver, as Powertools generates it, with the routes it
    leaves out (`include_in_schema=False`) under UNDOCUMENTED_ROUTES."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    from investment_system import __version__
    from investment_system.http.compat import registered_routes

    # Powertools refuses a route's `security` unless the scheme it names is passed here.
    schemes = {BEARER_SCHEME_NAME: HTTPBearer(bearerFormat="JWT")}
    document: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(title=TITLE, version=__version__, security_schemes=schemes)
    )
    undocumented: dict[str, list[str]] = {}
    for route in registered_routes(app):
        if not route.include_in_schema:
            undocumented.setdefault(route.openapi_path, []).append(route.method)
    if undocumented:
        document[UNDOCUMENTED_ROUTES] = undocumented
    return document


def build_document(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The API's document, from the parts of all its functions (`document_part`)."""
    from investment_system import __version__

    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    undocumented: dict[str, list[str]] = {}
    for part in parts:
        for path, methods in part.get(UNDOCUMENTED_ROUTES, {}).items():
            undocumented[path] = sorted({*undocumented.get(path, []), *methods})
        for path, operations in part.get("paths", {}).items():
            paths.setdefault(path, {}).update(operations)
        schemas.update(part.get("components", {}).get("schemas", {}))
    for name in _POWERTOOLS_ERROR_SCHEMAS:
        schemas.pop(name, None)
    envelope = ErrorEnvelope.model_json_schema(ref_template=COMPONENT_SCHEMAS + "{model}")
    schemas |= envelope.pop("$defs")
    schemas["ErrorEnvelope"] = envelope
    for path, operations in paths.items():
        for method, operation in operations.items():
            _complete_operation(f"{method.upper()} {path}", operation)
            _refused_text_patterns(operation, schemas)
    _name_enum_members(schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": __version__, "description": DESCRIPTION},
        "servers": [{"url": "/", "description": "This API's own origin"}],
        "tags": TAGS,
        "paths": dict(sorted(paths.items())),
        UNDOCUMENTED_ROUTES: dict(sorted(undocumented.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "headers": HEADERS,
            "securitySchemes": {BEARER_SCHEME_NAME: BEARER_SCHEME},
        },
    }


def _complete_operation(route_key: str, operation: dict[str, Any]) -> None:
    from investment_system.http.route_facts import RateLimit, RouteFacts
    from investment_system.services.billing.webhooks import SIGNATURE_HEADER

    bearer = bool(operation.get("security"))
    operation.setdefault("security", [])
    parameter_names = _canonical_header_names(operation.get("parameters", []))
    for parameter in operation.get("parameters", []):
        _absent_not_null(parameter)
    rate_limited = RouteFacts.of(operation).rate_limit is not RateLimit.NONE
    statuses = {400, 422, 500, 503}
    statuses |= {413, 415} if "requestBody" in operation else set()
    statuses |= {401, 403} if bearer else set()
    statuses |= {429} if rate_limited else set()
    # Conditional requests (http/conditional.py): a read taking If-None-Match sends an ETag and may answer
    # 304; a write taking If-Match may answer 412.
    conditional_read = "If-None-Match" in parameter_names
    statuses |= {412} if "If-Match" in parameter_names else set()
    responses: dict[str, Any] = operation["responses"]
    if conditional_read:
        responses.setdefault("304", {"description": "Not Modified: If-None-Match names the current version. No body."})
    for code in statuses:
        responses.setdefault(str(code), _error_response(code, {"schema": {"$ref": _ENVELOPE_REF}}))
    # Powertools documents a 422 of its own; its body is the envelope too.
    responses["422"] = _error_response(422, {"schema": {"$ref": _ENVELOPE_REF}})
    for status, response in responses.items():
        names = ["X-Correlation-ID"]
        names += list(_RATE_LIMIT_HEADERS) if rate_limited else []
        names += ["Retry-After"] if status in ("423", "429") else []
        # The one 401 without a challenge: a webhook's signature is no HTTP authentication scheme.
        names += ["WWW-Authenticate"] if status == "401" and SIGNATURE_HEADER not in parameter_names else []
        names += ["Idempotent-Replayed"] if status.startswith("2") and "Idempotency-Key" in parameter_names else []
        names += ["ETag"] if conditional_read and (status.startswith("2") or status == "304") else []
        headers = {name: {"$ref": f"#/components/headers/{name}"} for name in names}
        if status == "503":
            headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After-If-Safe"}
        response["headers"] = headers
    operation["responses"] = dict(sorted(responses.items()))


def _refused_text_patterns(operation: dict[str, Any], schemas: Mapping[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        _pattern_on_text(parameter["schema"], _TEXT_PATTERNS[parameter["in"]], schemas, set())
    for media in operation.get("requestBody", {}).get("content", {}).values():
        _pattern_on_text(media["schema"], _TEXT_PATTERNS["body"], schemas, set())


def _pattern_on_text(schema: Any, pattern: str, schemas: Mapping[str, Any], seen: set[str]) -> None:
    """`pattern` on every string of `schema` (followed through its references) that has no other rule, and on
    the names of the fields an object takes beside those it names."""
    if isinstance(schema, list):
        for item in schema:
            _pattern_on_text(item, pattern, schemas, seen)
        return
    if not isinstance(schema, dict):
        return
    reference = schema.get("$ref", "")
    if reference.startswith(COMPONENT_SCHEMAS) and reference not in seen:
        seen.add(reference)
        _pattern_on_text(schemas[reference.removeprefix(COMPONENT_SCHEMAS)], pattern, schemas, seen)
    if schema.get("type") == "string" and not {"pattern", "format", "enum", "const"} & schema.keys():
        schema["pattern"] = pattern
    # An object that takes fields it does not name: their names are the request's texts too. (Their values
    # could be stated only by a recursive schema, which client generators refuse.)
    if schema.get("type") == "object" and schema.get("additionalProperties") in (None, True):
        schema["propertyNames"] = {"pattern": pattern}
    for keyword in ("anyOf", "oneOf", "allOf", "items", "additionalProperties"):
        _pattern_on_text(schema.get(keyword), pattern, schemas, seen)
    for subschema in schema.get("properties", {}).values():
        _pattern_on_text(subschema, pattern, schemas, seen)


def _canonical_header_names(parameters: list[dict[str, Any]]) -> set[str]:
    """Header parameters renamed as the contract spells them (the CORS allow-list has every one); their names."""
    from investment_system.http.resolver import CORS_ALLOW_HEADERS

    spelling = {name.lower(): name for name in CORS_ALLOW_HEADERS}
    names = set()
    for parameter in parameters:
        if parameter["in"] == "header":
            parameter["name"] = spelling[parameter["name"].lower()]
            names.add(parameter["name"])
    return names


def _absent_not_null(parameter: dict[str, Any]) -> None:
    """An optional parameter's schema without the `null` Powertools gives it (from `X | None = None`),
    and without a copy of the parameter's own description."""
    schema = parameter["schema"]
    options = [option for option in schema.get("anyOf", []) if option != {"type": "null"}]
    if len(options) == 1 < len(schema["anyOf"]):
        del schema["anyOf"]
        schema |= options[0]
    if schema.get("description") == parameter.get("description"):
        schema.pop("description", None)


def _name_enum_members(schemas: dict[str, Any]) -> None:
    """`x-enum-varnames` on every named enum: the member names of the Python enum it documents."""
    for enum in _named_enums():
        schema = schemas[enum.__name__]
        if schema["enum"] != [member.value for member in enum]:
            raise ValueError(f"the {enum.__name__} schema does not list the enum's values")
        schema["x-enum-varnames"] = [member.name for member in enum]


def _named_enums() -> tuple[type[Enum], ...]:
    from investment_system.domain import Direction, PlanCode, SignalStatus, SubscriptionStatus, Timeframe
    from investment_system.schemas.health import DependencyState, HealthStatus
    from investment_system.schemas.plans import PlanInterval
    from investment_system.schemas.signals import HistoryAction
    from investment_system.schemas.users import Role

    return (
        DependencyState,
        Direction,
        HealthStatus,
        HistoryAction,
        PlanCode,
        PlanInterval,
        Role,
        SignalStatus,
        SubscriptionStatus,
        Timeframe,
    )
