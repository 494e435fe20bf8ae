"""The Lambda entry point of the WebSocket API's functions: `$connect`, `$disconnect`, `$default`.

API Gateway's WebSocket events are not HTTP API events (no resolver, no routes): each route is a
function of its own, and its handler is a plain function of the `WebSocketRequest`, returning what
API Gateway does with it: for `$connect`, 200 opens the connection and any other status refuses the
handshake with it (no connection is made); for `$default`, a body is sent back to the client (the
route has a route response). A query parameter or header with a control character is refused
first, as on the HTTP routes (http/request_parameters.py). An `AppError` becomes its status with the
contract's error envelope; anything else a 500. Correlation ID, cold start, metric dimensions and
request metrics are as for HTTP.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from investment_system.errors import AppError, ErrorCode
from investment_system.http.envelope import envelope, error_headers
from investment_system.http.request_parameters import refuse_control_characters, refuse_control_characters_in_headers
from investment_system.http.resolver import LambdaHandler, correlation_id_for, instrumented, record_request
from investment_system.observability import (
    MetricName,
    add_metric,
    logger,
    record_cold_start,
    set_correlation_id,
    start_request_metrics,
)


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


def websocket_handler(route: Route) -> LambdaHandler:
    """The Lambda handler of a WebSocket route: `route`'s frame (if any) as the body of a 200."""
    cold = True

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        nonlocal cold
        started = time.perf_counter()
        set_correlation_id(correlation_id_for(event))
        request = WebSocketRequest.of(event)
        start_request_metrics(context.function_name, request.route_key)
        if cold:
            cold = False
            record_cold_start(context.function_name)
        try:
            refuse_control_characters_in_headers(event, request.route_key)
            refuse_control_characters(event)
            reply = _reply(200, route(request))
        except AppError as error:
            if request.route_key == "$connect":
                add_metric(MetricName.STREAM_HANDSHAKES_REFUSED)
            logger.info("WebSocket request refused", extra={"code": error.code.value, "route": request.route_key})
            reply = _reply(error.status, envelope(error.code, error.message, error.details), error_headers(error))
        except Exception:
            logger.exception("Unhandled error", extra={"route": request.route_key})
            reply = _reply(500, envelope(ErrorCode.INTERNAL_ERROR))
        record_request(reply["statusCode"], started)
        return reply

    return instrumented(handler)


def _reply(status: int, body: dict[str, Any] | None, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    reply: dict[str, Any] = {"statusCode": status}
    if headers:
        reply["headers"] = dict(headers)
    if body is not None:
        reply["body"] = json.dumps(body, separators=(",", ":"))
    return reply
