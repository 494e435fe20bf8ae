"""WebSocket $disconnect: forget a closed connection."""

from investment_system.entrypoints import WebSocketRequest, websocket_handler, websocket_sample_event
from investment_system.services.stream.delivery import remove_connection


def on_disconnect(request: WebSocketRequest) -> None:
    remove_connection(request.connection_id)


handler = websocket_handler(
    on_disconnect, sample=lambda world: websocket_sample_event("$disconnect", world.connection_id)
)
