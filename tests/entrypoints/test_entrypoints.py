"""Entry points: every function's handler comes from the decorator of its trigger (investment_system.entrypoints),
which does the common part once: the correlation ID, the logger's Lambda context, metrics flushed, init ended."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import investment_system.observability as observability
from invest_dev.events import LambdaContextStub, http_event, websocket_event
from invest_dev.template import FunctionSpec, functions
from investment_system import entrypoints
from investment_system.entrypoints import async_handler, http_handler, scheduled_handler, websocket_handler
from investment_system.http import create_app
from investment_system.observability import MetricName, add_metric, logger
from tests.support.metrics_contract import emitted_metrics_file

DECORATORS = {
    "http_handler",
    "websocket_handler",
    "scheduled_handler",
    "async_handler",
    "custom_resource_handler",
    "deployment_hook_handler",
}
LAYER = Path(entrypoints.__path__[0]).parent


def _decorator_of(spec: FunctionSpec) -> str | None:
    """The entry-point decorator `handler = <decorator>(...)` of a function's module is made with, if any."""
    tree = ast.parse(spec.source.read_text())
    imported = {
        alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module == "investment_system.entrypoints"
        for alias in node.names
    }
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(target, "id", None) for target in node.targets] == ["handler"]
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id in imported
        ):
            return node.value.func.id
    return None


@pytest.mark.parametrize("spec", functions(), ids=lambda spec: spec.name)
def test_every_function_makes_its_handler_with_the_decorator_of_its_trigger(spec):
    # Given a function's module
    source = spec.source.read_text()
    # Then its handler is an entry-point decorator applied to what the function does
    assert _decorator_of(spec) in DECORATORS
    # And the module neither wraps the handler itself nor ends the container's init
    assert [name for name in ("end_of_init", "log_metrics", "inject_lambda_context") if name in source] == []


def _calls_end_of_init(path: Path) -> bool:
    return any(
        isinstance(node, ast.Call) and getattr(node.func, "id", None) == "end_of_init"
        for node in ast.walk(ast.parse(path.read_text()))
    )


def test_only_the_entry_points_end_a_containers_init_and_observability_makes_no_handler():
    # Given the layer's modules
    layer = LAYER
    # Then only the entry points end a container's init (init_phase.end_of_init)
    callers = sorted(path.relative_to(layer).as_posix() for path in layer.rglob("*.py") if _calls_end_of_init(path))
    assert callers == ["entrypoints/base.py", "entrypoints/custom_resource.py"]
    # And observability.py observes: it makes no handler
    assert [name for name in vars(observability) if name.endswith("_handler")] == []


def _observed(use_case: Callable[[], Any]) -> Callable[..., Any]:
    """A use case that logs a line and adds a metric, as a function's use case would."""

    def observed(*_: Any) -> Any:
        logger.info("entry point probe")
        add_metric(MetricName.ROWS_PURGED, 1)
        return use_case()

    return observed


def _http() -> tuple[Callable[..., Any], dict[str, Any], str]:
    app = create_app(validation=False)
    app.get("/v1/entry-point-probe")(_observed(lambda: {"ok": True}))
    event = http_event("GET", "/v1/entry-point-probe", headers={"x-correlation-id": "probe-http-0001"})
    return http_handler(app), {**event, "routeKey": "GET /v1/entry-point-probe"}, "probe-http-0001"


def _websocket() -> tuple[Callable[..., Any], dict[str, Any], str]:
    event = websocket_event("$default", "probe-connection", body="{}")
    event["headers"] = {"x-correlation-id": "probe-websocket-0001"}
    return websocket_handler(_observed(lambda: None)), event, "probe-websocket-0001"


def _scheduled() -> tuple[Callable[..., Any], dict[str, Any], str]:
    return scheduled_handler(_observed(lambda: {"purged": 0})), {"id": "probe-schedule-0001"}, "probe-schedule-0001"


def _async() -> tuple[Callable[..., Any], dict[str, Any], str]:
    return async_handler(_observed(lambda: {"pushed": 0})), {"user_id": "someone"}, "the-request-id"


@pytest.mark.parametrize("trigger", [_http, _websocket, _scheduled, _async], ids=lambda make: make.__name__[1:])
def test_every_trigger_logs_with_the_lambda_context_and_correlation_id_and_flushes_its_metrics(trigger, json_logs):
    # Given a function's handler made by the decorator of its trigger
    handler, event, correlation_id = trigger()
    emitted = emitted_metrics_file()
    before = emitted.read_text() if emitted.exists() else ""
    # When Lambda invokes it
    handler(event, LambdaContextStub("EntryPointProbe", aws_request_id="the-request-id"))
    # Then what its use case logs carries the invocation's Lambda context and correlation ID
    [line] = [entry for entry in json_logs() if entry["message"] == "entry point probe"]
    assert line["function_request_id"] == "the-request-id"
    assert line["correlation_id"] == correlation_id
    # And the metrics it added were flushed when the invocation ended
    documents = [json.loads(text) for text in emitted.read_text()[len(before) :].splitlines()]
    assert any(MetricName.ROWS_PURGED.value in document for document in documents)


def test_an_asynchronous_invocation_that_fails_is_raised_for_lambda_to_retry():
    # Given an asynchronously invoked function whose use case fails
    def failing(_: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("push failed")

    handler = async_handler(failing)
    # When Lambda invokes it, then the failure reaches Lambda (which retries the event)
    with pytest.raises(RuntimeError, match="push failed"):
        handler({}, LambdaContextStub("EntryPointProbe"))


class _Tracer:
    """Stands in for Powertools' Tracer: records the handlers it wraps."""

    def __init__(self) -> None:
        self.traced: list[Callable[..., Any]] = []

    def capture_lambda_handler(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        self.traced.append(handler)
        return handler


@pytest.mark.parametrize("trigger", [_http, _websocket, _scheduled, _async], ids=lambda make: make.__name__[1:])
def test_every_triggers_handler_is_traced_when_tracing_is_on(trigger, monkeypatch):
    # Given tracing on
    from investment_system.entrypoints import base

    tracer = _Tracer()
    monkeypatch.setattr(base, "get_tracer", lambda: tracer)
    # When a function's handler is made by the decorator of its trigger
    handler, _, _ = trigger()
    # Then it is the tracer's wrapping of the handler
    assert tracer.traced == [handler]
