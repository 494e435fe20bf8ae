"""What the gateway answers over HTTP: the function's result as a response, or API Gateway's own errors."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

_HOP_BY_HOP = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding"})


class GatewayError(Exception):
    """A response API Gateway gives by itself, when the function gave none it could use."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


def internal_error() -> GatewayError:
    return GatewayError(502, "Internal Server Error")


def service_unavailable() -> GatewayError:
    return GatewayError(503, "Service Unavailable")


def integration_timeout() -> GatewayError:
    return GatewayError(504, "Service Unavailable")


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def from_gateway_error(cls, error: GatewayError) -> HttpResponse:
        body = json.dumps({"message": error.message}).encode()
        return cls(error.status, [("Content-Type", "application/json")], body)


def http_response(result: Any) -> HttpResponse:
    """A payload-2.0 function result as HTTP; a malformed one is API Gateway's 502.

    A result without statusCode is taken as a JSON body with status 200, as API Gateway does.
    """
    if not isinstance(result, dict) or "statusCode" not in result:
        return HttpResponse(200, [("Content-Type", "application/json")], json.dumps(result).encode())
    status = result["statusCode"]
    headers = result.get("headers") or {}
    cookies = result.get("cookies") or []
    body = result.get("body") or ""
    if (
        isinstance(status, bool)
        or not isinstance(status, int)
        or not 100 <= status <= 599
        or not isinstance(headers, dict)
        or not isinstance(cookies, list)
        or not isinstance(body, str)
    ):
        raise internal_error()
    response = HttpResponse(status)
    for name, value in headers.items():
        if str(name).lower() not in _HOP_BY_HOP:
            response.headers.append((_header_text(name), _header_text(value)))
    response.headers.extend(("Set-Cookie", _header_text(cookie)) for cookie in cookies)
    if result.get("isBase64Encoded"):
        try:
            response.body = base64.b64decode(body, validate=True)
        except binascii.Error:
            raise internal_error() from None
    else:
        response.body = body.encode("utf-8")
    return response


def _header_text(value: Any) -> str:
    if isinstance(value, dict | list) or value is None:
        raise internal_error()
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if any(char in text for char in "\r\n\0"):  # never let a function split the response
        raise internal_error()
    return text
