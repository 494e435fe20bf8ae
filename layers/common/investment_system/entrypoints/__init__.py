"""The Lambda entry points: one decorator per kind of trigger, each taking what the function does and
returning its Lambda handler (`handler = http_handler(app)`, `handler = scheduled_handler(job)`...).

Each does the common part once: the correlation ID, the logger's Lambda context, metrics flushed,
tracing when on, and the end of the container's init (init_phase.py); and answers failures as its
trigger expects. One module per trigger, loaded when its decorator is first imported from here, so
that a function loads only its own trigger's code (tests/coldstart/test_import_budgets.py).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from investment_system.entrypoints.custom_resource import custom_resource_handler
    from investment_system.entrypoints.deployment_hook import deployment_hook_handler
    from investment_system.entrypoints.http import http_handler
    from investment_system.entrypoints.invoke import async_handler
    from investment_system.entrypoints.priming import SampleRequest, websocket_sample_event
    from investment_system.entrypoints.schedule import scheduled_handler
    from investment_system.entrypoints.websocket import WebSocketRequest, websocket_handler

__all__ = [
    "SampleRequest",
    "WebSocketRequest",
    "async_handler",
    "custom_resource_handler",
    "deployment_hook_handler",
    "http_handler",
    "scheduled_handler",
    "websocket_handler",
    "websocket_sample_event",
]

_MODULES = {
    "http_handler": "http",
    "websocket_handler": "websocket",
    "WebSocketRequest": "websocket",
    "scheduled_handler": "schedule",
    "async_handler": "invoke",
    "custom_resource_handler": "custom_resource",
    "deployment_hook_handler": "deployment_hook",
    "SampleRequest": "priming",
    "websocket_sample_event": "priming",
}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return getattr(import_module(f"{__name__}.{_MODULES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
