"""WebSocket $connect: open the stream for the owner of a ticket, or refuse the handshake."""

from investment_system.entrypoints import WebSocketRequest, websocket_handler, websocket_sample_event
from investment_system.http.rate_limit import limit_per_ip
from investment_system.services.stream.connections import connect


def on_connect(request: WebSocketRequest) -> None:
    limit_per_ip(request.source_ip)
    connect(request.query.get("ticket"), request.connection_id, request.query.get("last_event_id"))


handler = websocket_handler(
    on_connect, sample=lambda world: websocket_sample_event("$connect", "sample", query={"ticket": world.ticket})
)
