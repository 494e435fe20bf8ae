"""Invoked asynchronously (never by a route): push a user's new events to their open connections, or close one."""

import uuid
from typing import Any

from investment_system.errors import ErrorCode
from investment_system.init_phase import end_of_init
from investment_system.observability import LambdaContext, logger, metrics, set_correlation_id
from investment_system.services.stream_delivery import close, deliver


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    set_correlation_id(context.aws_request_id)
    if "close" in event:  # services.stream_delivery.request_close
        close(event["close"], ErrorCode(event["code"]))
        return {"pushed": 0, "gone": 0, "failed": 0}
    report = deliver(uuid.UUID(event["user_id"]), opened=event.get("opened"), evicted=event.get("evicted") or ())
    return {"pushed": report.pushed, "gone": len(report.gone), "failed": report.failed}


end_of_init()  # the handler is made: the container's init ends here (init_phase.py)
