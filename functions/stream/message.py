"""WebSocket $default: a client's message; `{"action": "ping"}` is answered `{"type": "pong"}`."""

from typing import Any

from investment_system.http.websocket import WebSocketRequest, websocket_handler
from investment_system.services.stream import answer


def on_message(request: WebSocketRequest) -> dict[str, Any]:
    return answer(request.body)


handler = websocket_handler(on_message)
