"""API Gateway HTTP API (payload 2.0) events and a Lambda-like context, for the local gateway and tests."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode


@dataclass
class LambdaContextStub:
    """What a handler reads from Lambda's context object."""

    function_name: str = "local"
    memory_limit_in_mb: int = 256
    timeout_seconds: float = 10.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    function_version: str = "$LATEST"
    _deadline: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def http_event(
    method: str,
    path: str,
    *,
    route_key: str | None = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    raw_query: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An HTTP API payload-2.0 event, as API Gateway would send it."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    cookies = [c.strip() for c in lowered.pop("cookie", "").split(";") if c.strip()]
    is_base64 = False
    text_body: str | None = None
    if isinstance(body, bytes):
        text_body = _as_text(body, lowered.get("content-type"))
        if text_body is None:
            text_body, is_base64 = base64.b64encode(body).decode("ascii"), True
    else:
        text_body = body
    query_string = raw_query if raw_query is not None else urlencode(query or {})
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method.upper()} {path}",
        "rawPath": path,
        "rawQueryString": query_string,
        "headers": lowered,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": lowered.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key or f"{method.upper()} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if cookies:
        event["cookies"] = cookies
    if query_string:
        event["queryStringParameters"] = _query_parameters(query_string)
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if text_body is not None:
        event["body"] = text_body
    return event


_TEXT_MEDIA_TYPES = frozenset({"application/json", "application/xml", "application/javascript"})


def _is_text_media_type(content_type: str | None) -> bool:
    """Whether API Gateway passes a request body of this type as text rather than base64.

    Text types go through as they are; anything else (images, octet-stream, form posts) arrives
    base64-encoded with isBase64Encoded. A body without a Content-Type counts as text when it is UTF-8.
    """
    if not content_type:
        return True
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in _TEXT_MEDIA_TYPES or media_type.endswith(("+json", "+xml"))


def _as_text(body: bytes, content_type: str | None) -> str | None:
    if not _is_text_media_type(content_type):
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _query_parameters(raw: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    # API Gateway joins repeated keys with commas.
    params: dict[str, str] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    return params


def websocket_event(
    route_key: str,
    connection_id: str,
    *,
    source_ip: str = "127.0.0.1",
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    body: str | None = None,
    stage: str = "v1",
    disconnect_status_code: int | None = None,
) -> dict[str, Any]:
    """An API Gateway WebSocket API event for a route ($connect, $disconnect, $default), as Lambda gets it:
    headers and query string on $connect only, the message as `body` on $default."""
    now = time.time()
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "messageDirection": "IN",
        "stage": stage,
        "connectedAt": int(now * 1000),
        "requestTimeEpoch": int(now * 1000),
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "identity": {"sourceIp": source_ip, "userAgent": lowered.get("user-agent", "")},
        "requestId": str(uuid.uuid4()),
        "domainName": lowered.get("host", "localhost"),
        "connectionId": connection_id,
        "apiId": "local",
    }
    if disconnect_status_code is not None:
        context["disconnectStatusCode"] = disconnect_status_code
    event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
    if route_key == "$connect":
        event["headers"] = lowered
        if query:
            event["queryStringParameters"] = dict(query)
    if body is not None:
        event["body"] = body
    return event
