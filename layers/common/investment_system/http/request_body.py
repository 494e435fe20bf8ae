"""Request bodies: JSON text, one object, within limits; parsed once, here, before any route code.

`require_json_body`, a request guard before routing, refuses a media type that is not JSON (415), a
body over `REQUEST_BODY_MAX_BYTES` (413) and bytes that are not UTF-8 (400); `require_json_media_type`
answers 415 to a body route without a JSON `Content-Type`, after authentication. `parse_json_body`,
every resolver's `json_body_deserializer`, refuses text that is not JSON, too deep, with too long a
number or NaN (400), and anything but one object or a string with a NUL or lone surrogate (422).
Why here: Powertools would hand a route's model the first element of a JSON array (docs/security.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from investment_system.errors import ErrorCode, RequestError, ValidationFailed
from investment_system.http.headers import header
from investment_system.settings import get_settings

_NOT_STORABLE = re.compile("[\x00\ud800-\udfff]")  # json.loads joins valid surrogate pairs, so these are unpaired
_JSON_MEDIA_TYPE = re.compile(r"application/(?:json|[^/\s;]+\+json)", re.IGNORECASE)
_POWERTOOLS_JSON = "application/json"  # the prefix Powertools' validation reads a body as JSON by


def is_json_media_type(content_type: str) -> bool:
    """Whether a Content-Type value names JSON: application/json or application/<anything>+json, any case,
    parameters allowed."""
    return _JSON_MEDIA_TYPE.fullmatch(content_type.split(";", 1)[0].strip()) is not None


def require_json_media_type(event: Mapping[str, Any]) -> None:
    """415 UNSUPPORTED_MEDIA_TYPE unless the request says its body is JSON (for a route that takes one)."""
    if not is_json_media_type(header(event.get("headers"), "content-type")):
        raise RequestError(ErrorCode.UNSUPPORTED_MEDIA_TYPE)


def json_readable(event: dict[str, Any]) -> dict[str, Any]:
    """`event`, or a copy whose Content-Type Powertools reads as JSON when it names JSON in another spelling."""
    content_type = header(event.get("headers"), "content-type")
    if content_type.startswith(_POWERTOOLS_JSON) or not is_json_media_type(content_type):
        return event
    headers = {name: value for name, value in event["headers"].items() if name.lower() != "content-type"}
    return {**event, "headers": {**headers, "content-type": _POWERTOOLS_JSON}}


def require_json_body(event: Mapping[str, Any], route_key: str) -> dict[str, str]:
    """415 for a body whose media type is not JSON (the API speaks only JSON; Powertools would try to
    parse forms), 413 for one over the size limit, 400 MALFORMED_JSON for one that is not even UTF-8 text."""
    body = event.get("body")
    if not body:
        return {}
    content_type = header(event.get("headers"), "content-type")
    if content_type and not is_json_media_type(content_type):
        raise RequestError(ErrorCode.UNSUPPORTED_MEDIA_TYPE)
    limit = get_settings().requests.body_max_bytes
    if event.get("isBase64Encoded"):
        if len(body) > (limit + 2) // 3 * 4:  # too long to decode within the limit: refused unread
            raise RequestError(ErrorCode.PAYLOAD_TOO_LARGE)
        try:
            raw = base64.b64decode(str(body), validate=True)
            raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise RequestError(ErrorCode.MALFORMED_JSON) from None
        size = len(raw)
    else:
        size = len(str(body).encode("utf-8", "surrogatepass"))
    if size > limit:
        raise RequestError(ErrorCode.PAYLOAD_TOO_LARGE)
    return {}


def json_body_parser(*, exact_decimals: bool) -> Callable[[str], dict[str, Any]]:
    """The resolver's body deserializer; `exact_decimals` reads fractional numbers as `Decimal`s."""
    read_float: Callable[[str], Any] = Decimal if exact_decimals else float

    def parse(text: str) -> dict[str, Any]:
        return parse_json_body(text, read_float=read_float)

    return parse


def parse_json_body(text: str, *, read_float: Callable[[str], Any] = float) -> dict[str, Any]:
    """The body as one JSON object, within the limits above; 400 MALFORMED_JSON or 422 otherwise."""
    limits = get_settings().requests

    def number(read: Callable[[str], Any]) -> Callable[[str], Any]:
        def checked(literal: str) -> Any:
            if len(literal) > limits.json_max_number_length:
                raise _Refused(f"A number is longer than {limits.json_max_number_length} characters.")
            return read(literal)

        return checked

    def constant(name: str) -> Any:
        raise _Refused(f"{name} is not a JSON value.")

    try:
        value = json.loads(text, parse_int=number(int), parse_float=number(read_float), parse_constant=constant)
        _check_values(value, limits.json_max_depth)
    except _Refused as refused:
        raise RequestError(ErrorCode.MALFORMED_JSON, str(refused)) from None
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError; RecursionError: nested too deep
        raise RequestError(ErrorCode.MALFORMED_JSON) from None
    if not isinstance(value, dict):
        raise _invalid("body", "The body must be one JSON object.", "model_type")
    return value


class _Refused(Exception):
    """JSON text that parses but is outside the limits; its message says which one."""


def _invalid(field: str, message: str, problem: str) -> ValidationFailed:
    return ValidationFailed(ErrorCode.VALIDATION_ERROR, details=[{"field": field, "message": message, "type": problem}])


def _check_values(value: Any, max_depth: int) -> None:
    """Depth at most `max_depth` (the top-level value is level 1), and every string storable as text."""
    pending: list[tuple[Any, int, tuple[str, ...]]] = [(value, 1, ())]
    while pending:
        item, depth, path = pending.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise _Refused(f"The body nests deeper than {max_depth} levels.")
            if isinstance(item, dict) and any(_NOT_STORABLE.search(key) for key in item):
                raise _invalid(
                    ".".join(path) or "body", "A field name holds a NUL or an unpaired surrogate.", "string_unicode"
                )
            entries = item.items() if isinstance(item, dict) else enumerate(item)
            pending.extend((child, depth + 1, (*path, str(key))) for key, child in entries)
        elif isinstance(item, str) and _NOT_STORABLE.search(item):
            raise _invalid(
                ".".join(path) or "body",
                "Text must not hold a NUL character or an unpaired surrogate.",
                "string_unicode",
            )
