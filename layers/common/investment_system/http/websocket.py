"""The answer to the WebSocket API's events: `$connect`, `$disconnect`, `$default` (entrypoints/websocket.py).

API Gateway's WebSocket events are not HTTP API events (no resolver, no routes): each route is a
function of its own, and its handler is a plain function of the `WebSocketRequest`, returning what
API Gateway does with it: for `$connect`, 200 opens the connection and any other status refuses the
handshake with it (no connection is made); for `$default`, a body is sent back to the client (the
route has a route response). A query parameter or header with a control character is refused
first, as on the HTTP routes (http/request_parameters.py). An `AppError` becomes its status with the
contract's error envelope; anything else INTERNAL_ERROR, the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from investment_system.errors import AppError, ErrorCode
from investment_system.http.envelope import envelope, error_headers
from investment_system.http.request_parameters import refuse_control_characters, refuse_control_characters_in_headers
from investment_system.observability import MetricName, add_metric, logger


@dataclass(frozen=True, slots=True)
class WebSocketRequest:
    route_key: str
    connection_id: str
    source_ip: str
    query: Mapping[str, str]
    body: str | None

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> WebSocketRequest:
        context = event.get("requestContext") or {}
        return cls(
            route_key=str(context.get("routeKey") or "$default"),
            connection_id=str(context.get("connectionId") or ""),
            source_ip=str((context.get("identity") or {}).get("sourceIp") or "unknown"),
            query=event.get("queryStringParameters") or {},
            body=event.get("body"),
        )


Route = Callable[[WebSocketRequest], dict[str, Any] | None]


def respond(route: Route, event: Mapping[str, Any]) -> dict[str, Any]:
    """The answer to a WebSocket API event: `route`'s frame (if any) as the body of a 200, an error as its status."""
    request = WebSocketRequest.of(event)
    try:
        refuse_control_characters_in_headers(event, request.route_key)
        refuse_control_characters(event)
        return _reply(200, route(request))
    except AppError as refused:
        if request.route_key == "$connect":
            add_metric(MetricName.STREAM_HANDSHAKES_REFUSED)
        logger.info("WebSocket request refused", extra={"code": refused.code.value, "route": request.route_key})
        error = refused
    except Exception:
        logger.exception("Unhandled error", extra={"route": request.route_key})
        error = AppError(ErrorCode.INTERNAL_ERROR)
    return _reply(error.status, envelope(error.code, error.message, error.details), error_headers(error))


def _reply(status: int, body: dict[str, Any] | None, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    reply: dict[str, Any] = {"statusCode": status}
    if headers:
        reply["headers"] = dict(headers)
    if body is not None:
        reply["body"] = json.dumps(body, separators=(",", ":"))
    return reply
