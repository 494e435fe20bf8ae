"""A request as the gateway received it, and the API Gateway payload-2.0 event made of it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from invest_dev.events import http_event


def joined_headers(received: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Request headers with lower-case names, repeated ones joined by commas (cookies by semicolons)."""
    joined: dict[str, list[str]] = {}
    for name, value in received:
        joined.setdefault(name.lower(), []).append(value)
    return {name: ("; " if name == "cookie" else ",").join(values) for name, values in joined.items()}


def event_headers(received: Iterable[tuple[str, str]], client_ip: str, server_port: int) -> dict[str, str]:
    """Request headers as API Gateway passes them: joined, with the client's address appended to
    X-Forwarded-For (what a client sent there stays, but the event's sourceIp is the TCP peer's)."""
    headers = joined_headers(received)
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {client_ip}" if forwarded else client_ip
    headers["x-forwarded-proto"] = "http"
    headers["x-forwarded-port"] = str(server_port)
    return headers


@dataclass
class HttpRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    source_ip: str
    received: float = field(default_factory=time.monotonic)
    # Filled in on the way, for the access log.
    integration_deadline: float = 0.0
    route_key: str = "-"
    function: str = "-"
    request_id: str = "-"
    integration_latency: float = 0.0

    def access_log(self, status: int) -> str:
        return json.dumps(
            {
                "requestId": self.request_id,
                "ip": self.source_ip,
                "method": self.method,
                "path": self.path,
                "routeKey": self.route_key,
                "function": self.function,
                "status": status,
                "latencyMs": round((time.monotonic() - self.received) * 1000, 1),
                "integrationLatencyMs": round(self.integration_latency * 1000, 1),
            }
        )

    def event(self, route_key: str, path_parameters: Mapping[str, str]) -> dict[str, Any]:
        """The payload-2.0 event of this request, matched to the route `route_key`. Its path is
        URL-decoded, as HTTP APIs pass it (the query string stays as sent)."""
        return http_event(
            self.method,
            unquote(self.path),
            route_key=route_key,
            headers=self.headers,
            raw_query=self.query,
            path_parameters=path_parameters,
            body=self.body or None,
            source_ip=self.source_ip,
        )
