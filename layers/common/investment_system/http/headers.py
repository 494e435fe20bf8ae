"""Request headers, found by name whatever the case the client spelled them in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def header(headers: Mapping[str, Any] | None, name: str) -> str:
    """The value of the header `name` (given in lower case), or "" when the request has none.

    API Gateway's HTTP API passes header names in lower case, so the lookup finds them at once; events
    from elsewhere (tests, `sam local`, hand-written ones) may keep the client's spelling, which the scan
    finds."""
    if not headers:
        return ""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return "" if value is None else str(value)


def bearer_token_from(headers: Mapping[str, Any] | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None when there is none."""
    scheme, _, token = header(headers, "authorization").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
