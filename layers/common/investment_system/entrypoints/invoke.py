"""Functions invoked asynchronously by the layer itself, never by a route: `async_handler`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from investment_system.entrypoints.base import LambdaHandler, instrumented
from investment_system.entrypoints.priming import prime_by_replay
from investment_system.observability import set_correlation_id

if TYPE_CHECKING:
    from investment_system.entrypoints.sample_world import SampleWorld

UseCase = Callable[[dict[str, Any]], dict[str, Any]]


def async_handler(use_case: UseCase, sample: Callable[[SampleWorld], dict[str, Any]] | None = None) -> LambdaHandler:
    """The Lambda handler of an asynchronous invocation: `use_case(event)`, its result returned.

    The invocation's request id is its correlation ID. A failure is raised, so that Lambda retries
    the event as its asynchronous invocation settings say. Before a SnapStart snapshot the use case
    answers the event `sample` makes (entrypoints/priming.py).
    """
    if sample is not None:
        prime_by_replay(lambda world: world is not None and use_case(sample(world)))

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        set_correlation_id(context.aws_request_id)
        return use_case(event)

    return instrumented(handler)
