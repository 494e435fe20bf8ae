"""Query and path parameters: text without control characters, checked before validation.

A request body is refused with a NUL or an unpaired surrogate as it is parsed (http/request_body.py),
and free-text fields refuse control characters in their types (schemas.PlainText). A query or path
parameter is text from a URL, and none of this API's parameters has a use for a control character: a
NUL would reach the database in a filter (PostgreSQL refuses it as text, a 500), a line break would
reach a log. So every query parameter's name and value, and every path parameter's value, is refused
with 422 VALIDATION_ERROR naming it when it holds a control character (C0, DEL, C1) or an unpaired
surrogate, for every route at once, whatever its model says. The check runs where Powertools would
validate the route's parameters (http/resolver.py), after authentication.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from investment_system.domain import CONTROL_CHARACTERS
from investment_system.errors import ErrorCode, ValidationFailed

_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
_MESSAGE = "must not contain a control character"


def refuse_control_characters(event: Mapping[str, Any]) -> None:
    """422 naming each query or path parameter of `event` that holds a control character (a name that
    holds one is named by its place alone, `query`)."""
    details = []
    for place, parameters in (("query", event.get("queryStringParameters")), ("path", event.get("pathParameters"))):
        for name, value in (parameters or {}).items():
            bad_name = bool(_CONTROL.search(str(name)))
            if bad_name or _CONTROL.search(str(value)):
                field = place if bad_name else f"{place}.{name}"
                details.append({"field": field, "message": _MESSAGE, "type": "string_type"})
    if details:
        raise ValidationFailed(ErrorCode.VALIDATION_ERROR, details=details)
