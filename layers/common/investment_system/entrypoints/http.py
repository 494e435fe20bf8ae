"""API Gateway's requests: an HTTP API route's function (`http_handler`), and what the WebSocket API's share with it.

A request's correlation ID comes from its X-Correlation-ID header (or is new), its metrics carry the
function and the route, the container's first request also counts a ColdStart, and its latency and
status class are recorded whatever the answer. The answer itself is `http/`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

from investment_system.entrypoints.base import LambdaHandler, instrumented
from investment_system.entrypoints.priming import REPLAY_CONTEXT, SampleRequest, http_sample_event, prime_by_replay
from investment_system.http.compat import registered_routes
from investment_system.http.resolver import correlation_id_for, prime, record_request, respond
from investment_system.observability import record_cold_start, set_correlation_id, start_request_metrics
from investment_system.snapstart import before_snapshot

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    from investment_system.entrypoints.sample_world import SampleWorld

# A function's sample HTTP requests, made from the state a replay finds (entrypoints/priming.py).
Sample = Callable[["SampleWorld"], list[SampleRequest]]


def http_handler(app: APIGatewayHttpResolver, sample: Sample | None = None) -> LambdaHandler:
    """The Lambda handler of an HTTP API function: correlation ID, guards, resolve, headers, metrics.

    Before a SnapStart snapshot each of the app's routes answers the requests `sample` makes (one with
    no query or body without it), as it answers real ones (entrypoints/priming.py)."""
    before_snapshot(partial(prime, app))
    prime_by_replay(partial(_replay, app, sample))
    return request_handler(_route_key, partial(respond, app))


def _replay(app: APIGatewayHttpResolver, sample: Sample | None, world: SampleWorld | None) -> None:
    routes = [(route.method, route.path) for route in registered_routes(app)] or [("GET", "")]
    for method, path in routes:
        # A function that maps no table has no world (None): its sample (the docs') asks nothing of it.
        for request in sample(cast("SampleWorld", world)) if sample is not None else [SampleRequest()]:
            respond(app, http_sample_event(method, path, request, world), REPLAY_CONTEXT)


def _route_key(event: Mapping[str, Any]) -> str:
    return str(event.get("routeKey") or "$default")


def request_handler(
    route_key_of: Callable[[Mapping[str, Any]], str],
    respond_to: Callable[[dict[str, Any], LambdaContext], dict[str, Any]],
) -> LambdaHandler:
    """The Lambda handler of an API Gateway route whose answer is `respond_to(event, context)`."""
    cold = True  # per handler, not per process: the local gateway keeps many functions in one process

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        nonlocal cold
        started = time.perf_counter()
        set_correlation_id(correlation_id_for(event))
        start_request_metrics(context.function_name, route_key_of(event))
        if cold:
            cold = False
            record_cold_start(context.function_name)
        response = respond_to(event, context)
        record_request(int(response.get("statusCode", 500)), started)
        return response

    return instrumented(handler)
