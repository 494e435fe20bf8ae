"""Scheduled (EventBridge): purge expired checkouts, idempotency records, old payment events and
expired refresh tokens, in bounded batches."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from investment_system.observability import logger, metrics, set_correlation_id
from investment_system.services.housekeeping import purge_expired_records

# Leave this much of the invocation's time for the last batch to commit.
SAFETY_MARGIN_MS = 5_000


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    set_correlation_id(str(event.get("id") or context.aws_request_id))
    return purge_expired_records(keep_going=lambda: context.get_remaining_time_in_millis() > SAFETY_MARGIN_MS)
