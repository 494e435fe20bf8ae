"""WebSocket $default: a client's message, answered as services/stream/messages.py says."""

from typing import Any

from investment_system.entrypoints import WebSocketRequest, websocket_handler, websocket_sample_event
from investment_system.services.stream.messages import answer


def on_message(request: WebSocketRequest) -> dict[str, Any]:
    return answer(request.connection_id, request.body)


handler = websocket_handler(
    on_message, sample=lambda world: websocket_sample_event("$default", world.connection_id, body='{"action": "ping"}')
)
