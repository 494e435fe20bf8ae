"""Scheduled (EventBridge): mark overdue OPEN signals EXPIRED, in bounded batches, with history rows."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from investment_system.observability import logger, metrics, set_correlation_id
from investment_system.services.signal_expiry import expire_overdue_signals

# Leave this much of the invocation's time for the last batch to commit.
SAFETY_MARGIN_MS = 5_000


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    # The EventBridge event id ties this run's history rows and log lines together.
    set_correlation_id(str(event.get("id") or context.aws_request_id))
    expired = expire_overdue_signals(keep_going=lambda: context.get_remaining_time_in_millis() > SAFETY_MARGIN_MS)
    return {"expired": expired}
