"""Query and path parameters, and headers: text without control characters.

A request body is refused with a NUL or an unpaired surrogate as it is parsed (http/request_body.py),
and free-text fields refuse control characters in their types (schemas.PlainText). A query or path
parameter is text from a URL, and none of this API's parameters has a use for a control character: a
NUL would reach the database in a filter (PostgreSQL refuses it as text, a 500), a line break would
reach a log. So every query parameter's name and value, and every path parameter's value, is refused
with 422 VALIDATION_ERROR naming it when it holds a control character (C0, DEL, C1) or an unpaired
surrogate, for every route at once, whatever its model says. The check runs where Powertools would
validate the route's parameters (http/resolver.py), after authentication.

A header's value is refused likewise when it holds a character HTTP does not allow in one: a control
character other than a tab, or an unpaired surrogate, which no HTTP request can carry but a hand-made
event can (it made the token's and the Idempotency-Key's encoding fail: a 500). That check is a
request guard, before routing, as the rate limit and authentication read headers first; a C1
character stays allowed, as HTTP's obs-text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from investment_system.domain import CONTROL_CHARACTERS
from investment_system.errors import ErrorCode, ValidationFailed

_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
_NOT_IN_HEADER = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_MESSAGE = "must not contain a control character"


def refuse_control_characters(event: Mapping[str, Any]) -> None:
    """422 naming each query or path parameter of `event` that holds a control character (`query.<name>`,
    `path.<name>`; a name that holds one is named by its place alone, `query`)."""
    _refuse(
        _problems("query", (event.get("queryStringParameters") or {}).items(), _CONTROL)
        + _problems("path", (event.get("pathParameters") or {}).items(), _CONTROL)
    )


def refuse_control_characters_in_headers(event: Mapping[str, Any], route_key: str) -> dict[str, str]:
    """A request guard: 422 naming each header (`header.<name>`, lower-cased) whose name or value holds a
    character HTTP does not allow in a header."""
    headers = event.get("headers") or {}
    _refuse(_problems("header", ((str(name).lower(), value) for name, value in headers.items()), _NOT_IN_HEADER))
    return {}


def _problems(place: str, items: Iterable[tuple[Any, Any]], refused: re.Pattern[str]) -> list[dict[str, str]]:
    details = []
    for name, value in items:
        bad_name = bool(refused.search(str(name)))
        if bad_name or refused.search(str(value)):
            details.append(
                {"field": place if bad_name else f"{place}.{name}", "message": _MESSAGE, "type": "string_type"}
            )
    return details


def _refuse(details: list[dict[str, str]]) -> None:
    if details:
        raise ValidationFailed(ErrorCode.VALIDATION_ERROR, details=details)
