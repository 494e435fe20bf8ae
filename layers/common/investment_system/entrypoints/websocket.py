"""The WebSocket API's routes (`$connect`, `$disconnect`, `$default`): a function each, `websocket_handler`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from investment_system.entrypoints.base import LambdaHandler
from investment_system.entrypoints.http import request_handler
from investment_system.http.websocket import Route, WebSocketRequest, respond

__all__ = ["WebSocketRequest", "websocket_handler"]


def websocket_handler(route: Route) -> LambdaHandler:
    """The Lambda handler of a WebSocket route: `route`'s frame (if any) as the body of a 200 (http/websocket.py)."""
    return request_handler(_route_key, lambda event, _: respond(route, event))


def _route_key(event: Mapping[str, Any]) -> str:
    return str((event.get("requestContext") or {}).get("routeKey") or "$default")
