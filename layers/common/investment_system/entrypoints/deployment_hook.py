"""CodeDeploy lifecycle hooks (a gradual deploy's pre-traffic check): `deployment_hook_handler`."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from investment_system.entrypoints.base import LambdaHandler, instrumented
from investment_system.observability import logger, set_correlation_id

SUCCEEDED, FAILED = "Succeeded", "Failed"


def deployment_hook_handler(check: Callable[[], None]) -> LambdaHandler:
    """The Lambda handler of a CodeDeploy lifecycle hook: `check()`, then the hook's status told to
    CodeDeploy, Succeeded when it returned and Failed when it raised (the deploy then stops and its
    traffic stays on, or returns to, the old version). It always reports: a hook that does not makes the
    deploy wait for the hook's timeout."""

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
        set_correlation_id(context.aws_request_id)
        status = SUCCEEDED
        try:
            check()
        except Exception as error:  # whatever fails, the deploy must not shift traffic
            logger.exception(
                "Pre-traffic check failed; the deploy rolls back", extra={"error_type": type(error).__name__}
            )
            status = FAILED
        codedeploy().put_lifecycle_event_hook_execution_status(
            deploymentId=event["DeploymentId"],
            lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
            status=status,
        )
        logger.info("Pre-traffic check reported", extra={"deployment_id": event["DeploymentId"], "status": status})
        return {"status": status}

    return instrumented(handler)


@cache
def codedeploy() -> Any:
    """The container's CodeDeploy client (boto3 loads only in the hook's function)."""
    import boto3

    return boto3.client("codedeploy")
