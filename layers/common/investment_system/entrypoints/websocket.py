"""The WebSocket API's routes (`$connect`, `$disconnect`, `$default`): a function each, `websocket_handler`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from investment_system.entrypoints.base import LambdaHandler
from investment_system.entrypoints.http import request_handler
from investment_system.entrypoints.priming import prime_by_replay
from investment_system.http.websocket import Route, WebSocketRequest, respond

if TYPE_CHECKING:
    from investment_system.entrypoints.sample_world import SampleWorld

__all__ = ["WebSocketRequest", "websocket_handler"]


def websocket_handler(route: Route, sample: Callable[[SampleWorld], dict[str, Any]] | None = None) -> LambdaHandler:
    """The Lambda handler of a WebSocket route: `route`'s frame (if any) as the body of a 200 (http/websocket.py).
    Before a SnapStart snapshot the route answers the event `sample` makes (entrypoints/priming.py)."""
    if sample is not None:
        prime_by_replay(lambda world: world is not None and respond(route, sample(world)))
    return request_handler(_route_key, lambda event, _: respond(route, event))


def _route_key(event: Mapping[str, Any]) -> str:
    return str((event.get("requestContext") or {}).get("routeKey") or "$default")
