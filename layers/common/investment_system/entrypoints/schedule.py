"""Scheduled (EventBridge) jobs working in bounded batches: `scheduled_handler`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from investment_system.entrypoints.base import LambdaHandler, instrumented
from investment_system.entrypoints.priming import prime_by_replay
from investment_system.observability import set_correlation_id

# A scheduled job leaves this much of its invocation's time for its last batch to commit.
SCHEDULED_SAFETY_MARGIN_MS = 5_000

Job = Callable[[Callable[[], bool]], dict[str, int]]


def scheduled_handler(job: Job) -> LambdaHandler:
    """The Lambda handler of a scheduled job: `job(keep_going)` returns its counts.

    `keep_going()` turns false when the invocation has less than SCHEDULED_SAFETY_MARGIN_MS left. The
    EventBridge event id is the run's correlation ID, so its audit rows and log lines tie together. A
    failure is raised: Lambda reports it, and the next run carries on where this one stopped.
    """

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        set_correlation_id(str(event.get("id") or context.aws_request_id))
        return job(lambda: context.get_remaining_time_in_millis() > SCHEDULED_SAFETY_MARGIN_MS)

    # Before a SnapStart snapshot the job runs once (entrypoints/priming.py), on a database with nothing due.
    prime_by_replay(lambda _: job(lambda: True))
    return instrumented(handler)
