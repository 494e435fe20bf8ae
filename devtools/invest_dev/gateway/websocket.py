"""The WebSocket API of template.yaml, served at ws://HOST:PORT/v1/stream as API Gateway serves it.

`$connect` gets API Gateway's event and its 200 completes the handshake (any other status refuses it);
each client message invokes `$default` and its answer goes back as a text frame; idle or too-long
connections close with 1001 (API Gateway's limits); DeleteConnection closes with the code of the last
error frame (CLOSE_CODES); `$disconnect` runs once the connection is gone. The framing is the
`websockets` library's Sans-I/O protocol (docs/stream.md#locally).
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.sync.connection import Connection

from invest_dev.events import websocket_event
from invest_dev.gateway.responses import GatewayError

IDLE_TIMEOUT_SECONDS = 600.0
MAX_CONNECTION_SECONDS = 7200.0
MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's WebSocket message limit
# DeleteConnection's close code, by the code of the last error frame the backend sent the connection.
CLOSE_CODES = {
    "TOKEN_REVOKED": 4001,
    "ACCOUNT_DISABLED": 4001,
    "CONNECTION_LIMIT_EXCEEDED": 4008,
    "RATE_LIMIT_EXCEEDED": 1008,
}
CLOSED_BY_BACKEND = 4008  # DeleteConnection after no error frame, or another one
GOING_AWAY = 1001

Invoker = Callable[[str, dict[str, Any]], Any]


@dataclass
class _Open:
    connection: Connection
    source_ip: str
    user_agent: str
    connected_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_active_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    close_code: int = CLOSED_BY_BACKEND  # what DeleteConnection closes it with (CLOSE_CODES)


class StreamGateway:
    """The WebSocket routes ($connect, $disconnect, $default -> logical ID) and the open connections."""

    def __init__(
        self,
        routes: dict[str, str],
        invoke: Invoker,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        max_lifetime: float = MAX_CONNECTION_SECONDS,
    ) -> None:
        self.routes = routes
        self._invoke = invoke
        self.idle_timeout = idle_timeout
        self.max_lifetime = max_lifetime
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()

    # --- The Management API's side (invest_dev.gateway.aws.StreamConnections) ------------------------

    def send(self, connection_id: str, text: str) -> bool:
        found = self._find(connection_id)
        if found is None:
            return False
        try:
            found.connection.send(text)
        except ConnectionClosed:
            return False
        code = _error_code(text)
        if code is not None:
            found.close_code = CLOSE_CODES.get(code, CLOSED_BY_BACKEND)
        return True

    def describe(self, connection_id: str) -> dict[str, Any] | None:
        found = self._find(connection_id)
        if found is None:
            return None
        return {
            "connectedAt": found.connected_at.isoformat(),
            "lastActiveAt": found.last_active_at.isoformat(),
            "identity": {"sourceIp": found.source_ip, "userAgent": found.user_agent},
        }

    def delete(self, connection_id: str) -> bool:
        found = self._find(connection_id)
        if found is None:
            return False
        found.connection.close(found.close_code, "closed by the server")
        return True

    def _find(self, connection_id: str) -> _Open | None:
        with self._lock:
            return self._open.get(connection_id)

    def close_all(self) -> None:
        with self._lock:
            connections = list(self._open.values())
        for found in connections:
            found.connection.close(GOING_AWAY, "the gateway is stopping")

    # --- A client's connection, in the thread of its HTTP request ------------------------------------

    def serve(self, sock: socket.socket, raw_request: bytes, source_ip: str) -> int:
        """Run one WebSocket connection on a socket whose handshake request was read; the handshake's status."""
        sock.settimeout(None)
        protocol = ServerProtocol(max_size=MAX_MESSAGE_BYTES)
        protocol.receive_data(raw_request)
        request = next(event for event in protocol.events_received() if isinstance(event, Request))
        response = protocol.accept(request)
        if response.status_code != 101:  # not a valid WebSocket handshake: no function is involved
            return _respond(sock, protocol, response)
        connection_id = secrets.token_urlsafe(9) + "="
        headers = dict(request.headers.raw_items())
        user_agent = request.headers.get("User-Agent", "")
        query = dict(parse_qsl(request.path.partition("?")[2], keep_blank_values=True))
        event = websocket_event("$connect", connection_id, source_ip=source_ip, headers=headers, query=query)
        status, body = self._status_of(self._call("$connect", event))
        if status != 200:
            refusal = protocol.reject(status, body or "Forbidden")
            refusal.headers["Content-Type"] = "application/json" if body.startswith("{") else "text/plain"
            return _respond(sock, protocol, refusal)
        _respond(sock, protocol, response)
        connection = Connection(sock, protocol, ping_interval=None, close_timeout=5)
        with self._lock:
            self._open[connection_id] = _Open(connection, source_ip, user_agent)
        try:
            self._converse(connection_id, connection, source_ip)
        finally:
            with self._lock:
                self._open.pop(connection_id, None)
            code = connection.close_code or 1006
            self._call("$disconnect", websocket_event("$disconnect", connection_id, disconnect_status_code=code))
        return 101

    def _converse(self, connection_id: str, connection: Connection, source_ip: str) -> None:
        end_of_life = time.monotonic() + self.max_lifetime
        while True:
            try:
                message = connection.recv(timeout=min(self.idle_timeout, max(end_of_life - time.monotonic(), 0)))
            except TimeoutError:
                connection.close(GOING_AWAY, "Going away")  # API Gateway's idle timeout or connection lifetime
                return
            except ConnectionClosed:
                return
            found = self._find(connection_id)
            if found is not None:
                found.last_active_at = datetime.now(UTC)
            text = message if isinstance(message, str) else message.decode("utf-8", errors="replace")
            event = websocket_event("$default", connection_id, source_ip=source_ip, body=text)
            _, body = self._status_of(self._call("$default", event))
            if body:
                try:
                    connection.send(body)
                except ConnectionClosed:
                    return

    def _call(self, route_key: str, event: dict[str, Any]) -> Any:
        function = self.routes.get(route_key)
        if function is None:
            return {"statusCode": 200}  # a route the API does not define: nothing to run
        try:
            return self._invoke(function, event)
        except GatewayError as error:
            return {"statusCode": error.status, "body": json.dumps({"message": error.message})}

    @staticmethod
    def _status_of(result: Any) -> tuple[int, str]:
        if not isinstance(result, dict):
            return 200, "" if result is None else json.dumps(result)
        status = result.get("statusCode", 200)
        body = result.get("body") or ""
        return (status if isinstance(status, int) else 502), str(body)


def _error_code(text: str) -> str | None:
    """The code of an error frame (`{"type": "error", "code": ...}`); None for any other frame."""
    if '"error"' not in text:
        return None
    try:
        frame = json.loads(text)
    except ValueError:
        return None
    code = frame.get("code")
    return code if isinstance(code, str) else None


def _respond(sock: socket.socket, protocol: ServerProtocol, response: Any) -> int:
    """Send the handshake's answer; a refusal also ends the connection (http.server then closes it)."""
    protocol.send_response(response)
    for data in protocol.data_to_send():
        if data:
            sock.sendall(data)
        else:
            sock.shutdown(socket.SHUT_WR)
    return int(response.status_code)


def handshake_bytes(request_line: str, headers: list[tuple[str, str]]) -> bytes:
    """The handshake request as http.server read it, for the protocol to parse."""
    lines = [request_line, *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
