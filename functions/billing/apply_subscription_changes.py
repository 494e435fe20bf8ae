"""Scheduled (EventBridge): apply due plan changes, cancellations and dunning, in bounded batches."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from investment_system.observability import logger, metrics, set_correlation_id
from investment_system.services.subscription_schedule import apply_due_changes

# Leave this much of the invocation's time for the last batch to commit.
SAFETY_MARGIN_MS = 5_000


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    # The EventBridge event id ties this run's audit rows and log lines together.
    set_correlation_id(str(event.get("id") or context.aws_request_id))
    updated = apply_due_changes(keep_going=lambda: context.get_remaining_time_in_millis() > SAFETY_MARGIN_MS)
    return {"subscriptions": updated}
