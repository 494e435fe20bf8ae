"""The real-time stream's cost on the functions that change signals: cold start and warm latency of
POST /v1/signals with nobody listening and with a connection open, and the delivery function's push.

A change whose user has a connection open asks for a delivery (a Lambda `Invoke` of type Event); the
first one in a container imports boto3 and makes its client. AWS is a stub HTTP server on this
machine answering at once, so the numbers are the functions' own cost, without AWS's round trip.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from invest_dev.bench.measure import cold_start, measure
from invest_dev.bench.scenarios import BenchContext, ScenarioResult, scenario
from invest_dev.samples import stream_ticket

CREATE = "CreateSignalFunction"
DELIVERY = "StreamDeliveryFunction"


class _StubAws(BaseHTTPRequestHandler):
    """Lambda's Invoke (202) and PostToConnection (200), answered at once."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(202 if "/invocations" in self.path else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""


@contextmanager
def stub_aws() -> Iterator[dict[str, str]]:
    """The stub's settings: what points the functions' boto3 clients at it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubAws)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield {
            "STREAM_DELIVERY_FUNCTION": DELIVERY,
            "STREAM_MANAGEMENT_ENDPOINT": url + "/v1",
            "AWS_ENDPOINT_URL_LAMBDA": url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
        }
    finally:
        server.shutdown()


@contextmanager
def _settings(values: dict[str, str]) -> Iterator[None]:
    """These variables in this process's settings, for the block."""
    from investment_system.settings import get_settings

    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


def _listening(user_id: Any, listening: bool) -> None:
    """Open (or close) one connection of the user, as $connect (or $disconnect) would."""
    from investment_system.services.stream.connections import connect
    from investment_system.services.stream.delivery import remove_connection

    remove_connection("bench-listener=")
    if listening:
        connect(stream_ticket(user_id), "bench-listener=")


def _create_costs(ctx: BenchContext, aws: dict[str, str], who: str) -> list[ScenarioResult]:
    from investment_system.db.engine import dispose_engine

    cold = cold_start(ctx.spec(CREATE), lambda: ctx.event(CREATE), ctx.runs, env_overrides=aws)
    with _settings(aws):
        dispose_engine()
        event = ctx.event(CREATE)
        ctx.invoke(CREATE, event)  # the container's first request (and, listening, boto3's client)
        warm = measure(lambda: ctx.invoke(CREATE, event), min(ctx.iterations, 300))
    return [
        ScenarioResult(
            f"POST /v1/signals cold start: first response, {who}",
            [seconds * 1000 for seconds in cold.first_response_s],
            "a fresh process, after importing the function (the import is the same)",
        ),
        ScenarioResult(f"POST /v1/signals warm, {who}", warm, "the same event, again and again"),
    ]


@scenario
def stream_cost_on_signal_functions(ctx: BenchContext) -> list[ScenarioResult]:
    results: list[ScenarioResult] = []
    with stub_aws() as aws:
        for listening in (False, True):
            _listening(ctx.users.user_id, listening)
            results += _create_costs(ctx, aws, "a connection open" if listening else "nobody listening")
        with _settings(aws):
            delivery = {"user_id": str(ctx.users.user_id)}

            def push_one() -> None:
                ctx.invoke(CREATE, ctx.event(CREATE))
                ctx.invoke(DELIVERY, delivery)

            ctx.invoke(DELIVERY, delivery)
            samples = measure(push_one, min(ctx.iterations, 200))
        _listening(ctx.users.user_id, False)
    results.append(
        ScenarioResult(
            "POST /v1/signals then the delivery's push (one connection)",
            samples,
            "both warm, in this process: the create, then the delivery function pushing its event",
        )
    )
    return results
