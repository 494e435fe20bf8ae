"""SnapStart priming by replay: before the snapshot a function answers its own sample requests, with the
code that answers real ones, so that what a restored container's first request would compile or build
is in the snapshot, and nothing has to mirror it. A function's samples ship with it, declared with its
entry point (`http_handler(app, sample=...)`); they are answered on a scratch database
(`db.engine.replaying`) under scratch settings that reach nothing outside the process, and what the
replay leaves behind is then forgotten as after a restore. docs/cold-start.md#snapstart-priming.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from investment_system.snapstart import before_snapshot, redo_after_restore

if TYPE_CHECKING:
    from investment_system.entrypoints.sample_world import SampleWorld

# What the replay runs under: no rate-limit or cache store, no stream to invoke or push to, no
# feature-flag store; the secrets as already read (no Secrets Manager call); and, should a sample still
# lead to an AWS call, an endpoint that refuses it at once on this machine.
_SCRATCH_ENVIRONMENT = {
    "RATE_LIMIT_BACKEND": "memory",
    "STREAM_DELIVERY_FUNCTION": "",
    "STREAM_MANAGEMENT_ENDPOINT": "",
    "FEATURE_FLAGS_APPCONFIG_APPLICATION": "",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
}
_SECRET_ARNS = ("JWT_SECRET_ARN", "PAYMENT_WEBHOOK_SECRET_ARN", "DATABASE_SECRET_ARN")


@dataclass(frozen=True)
class SampleRequest:
    """A sample HTTP request, beyond its route: path parameters the world does not give (`SampleWorld`
    gives `id`, the investor's signal, and `user_id`, the investor), a query, a body (JSON-encoded unless
    text) and headers. A bearer token is added: the administrator's on /v1/admin, the investor's elsewhere."""

    body: Any = None
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    path: Mapping[str, str] = field(default_factory=dict)


class ReplayContext:
    """What the replay hands a handler for Lambda's context."""

    function_name = "snapstart-replay"
    aws_request_id = "snapstart-replay"
    invoked_function_arn = "arn:aws:lambda:replay:000000000000:function:snapstart-replay"
    memory_limit_in_mb = 128

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


REPLAY_CONTEXT: Any = ReplayContext()


def prime_by_replay(replay: Callable[[SampleWorld | None], object]) -> None:
    """Have `replay(world)` run before the snapshot; `world` is None for a function that maps no table."""
    before_snapshot(partial(_replay, replay), last=True)


def _replay(replay: Callable[[SampleWorld | None], object]) -> None:
    from investment_system.observability import logger, metrics
    from investment_system.settings import get_settings

    uses_database = "investment_system.db.engine" in sys.modules
    maps_tables = "investment_system.db.base" in sys.modules
    level = logger.log_level
    logger.setLevel("ERROR")  # the replay's requests were not served: only what failed is logged
    try:
        with _scratch_settings(), _scratch_database() if uses_database else nullcontext():
            world = None
            if maps_tables:
                from investment_system.entrypoints.sample_world import SampleWorld

                world = SampleWorld()
            replay(world)
    finally:
        logger.setLevel(level)
    metrics.clear_metrics()  # what the replay counted was not served
    redo_after_restore()
    get_settings()


@contextmanager
def _scratch_database() -> Iterator[None]:
    from investment_system.db.engine import replaying

    with replaying():
        yield


@contextmanager
def _scratch_settings() -> Iterator[None]:
    from investment_system.settings import get_settings

    real = get_settings()
    saved = dict(os.environ)
    os.environ.update(_SCRATCH_ENVIRONMENT)
    os.environ.update(JWT_SECRET=real.security.jwt_secret, PAYMENT_WEBHOOK_SECRET=real.security.payment_webhook_secret)
    for variable in _SECRET_ARNS:
        os.environ.pop(variable, None)
    redo_after_restore()  # what init made of the real settings (a store's client...) is made anew from these
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


def http_sample_event(
    method: str, path_template: str, request: SampleRequest, world: SampleWorld | None
) -> dict[str, Any]:
    """An HTTP API event of `request` on the route `path_template` (Powertools' `/v1/signals/<id>`; empty:
    the `$default` route, with a path no function serves)."""
    import json
    import re
    from urllib.parse import urlencode

    names = re.findall(r"<(\w+)>", path_template)
    given = {"id": lambda: str(world.signal_id), "user_id": lambda: str(world.investor.user_id)} if world else {}
    parameters = {name: request.path.get(name) or (given[name]() if name in given else "sample") for name in names}
    path = re.sub(r"<(\w+)>", lambda found: parameters[found.group(1)], path_template) or "/v1/sample-unknown"
    headers = {"content-type": "application/json", **{k.lower(): v for k, v in request.headers.items()}}
    if world is not None and "authorization" not in headers:
        caller = world.admin if path.startswith("/v1/admin") else world.investor
        headers["authorization"] = f"Bearer {caller.access_token}"
    body = request.body if request.body is None or isinstance(request.body, str) else json.dumps(request.body)
    route_key = f"{method} {re.sub(r'<(\w+)>', r'{\1}', path_template)}" if path_template else "$default"
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": urlencode(request.query),
        "queryStringParameters": dict(request.query) or None,
        "headers": headers,
        "pathParameters": parameters or None,
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1"},
            "routeKey": route_key,
            "stage": "$default",
            "requestId": "snapstart-replay",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def websocket_sample_event(
    route_key: str, connection_id: str, *, query: Mapping[str, str] | None = None, body: str | None = None
) -> dict[str, Any]:
    """A WebSocket API event of `route_key` ($connect, $disconnect, $default) on a connection."""
    return {
        "requestContext": {
            "routeKey": route_key,
            "connectionId": connection_id,
            "identity": {"sourceIp": "192.0.2.1"},
            "requestId": "snapstart-replay",
        },
        "queryStringParameters": dict(query) if query else None,
        "body": body,
        "isBase64Encoded": False,
    }
