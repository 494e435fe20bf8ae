"""What every entry point but the custom resource's wraps its handler in, and when init ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from investment_system.init_phase import end_of_init
from investment_system.observability import get_tracer, logger, metrics

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def instrumented(handler: LambdaHandler) -> LambdaHandler:
    """`handler` with the logger's Lambda context, its metrics flushed after it, and traced when tracing is on.

    Made last in a function's module, it also ends the container's init (`init_phase.end_of_init`).
    """
    # No clear_state: it re-registers the logger's formatter on every invocation. The layer keeps no
    # per-invocation keys in the logger but the correlation ID, which every entry point sets anew.
    wrapped = logger.inject_lambda_context(handler)
    wrapped = metrics.log_metrics(wrapped)
    tracer = get_tracer()
    if tracer is not None:
        wrapped = tracer.capture_lambda_handler(wrapped)
    end_of_init()
    return wrapped
