"""Query and path parameters, and headers: text without control characters.

No parameter of this API has a use for a control character, and a NUL would reach the database (a
500 on PostgreSQL) and a line break a log. So a query parameter's name or value, or a path
parameter's value, with a control character (C0, DEL, C1) or an unpaired surrogate is a 422 naming
it, for every route, where Powertools would validate the parameters (after authentication). A header
value with a character HTTP does not allow (a control character but a tab, a lone surrogate) is
refused by a request guard before routing; a C1 character stays allowed, as HTTP's obs-text.
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
