"""A gradual deploy's pre-traffic check: the new versions answer a request 2xx before any traffic shifts.

The health function's new version answers GET /v1/health, and GET /v1/users/me's answers a
token-checked read for the check's own account (services/accounts/deploy_check.py, which the function
passes in). A version that answers anything but 2xx, or fails, fails the check: CodeDeploy then rolls
the deploy back (entrypoints/deployment_hook.py). docs/operations.md#deploys-and-rollbacks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any

from investment_system.observability import logger
from investment_system.settings import get_settings


class DeployCheckFailed(RuntimeError):
    """A new version did not answer its request 2xx."""


def http_event(method: str, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway payload-2.0 event of a request without body, as the HTTP API would send it."""
    request_id = f"deploy-check-{uuid.uuid4()}"
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"x-correlation-id": request_id, **(headers or {})},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": ""},
            "requestId": request_id,
            "routeKey": f"{method} {path}",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def check_new_versions(access_token: Callable[[], str]) -> None:
    """Each configured new version answers its request 2xx, the token-checked read with `access_token()`'s
    token; DeployCheckFailed names the first that does not."""
    settings = get_settings().deploy_checks
    if settings.health_version:
        _expect_2xx(settings.health_version, http_event("GET", "/v1/health"))
    if settings.token_read_version:
        bearer = {"authorization": f"Bearer {access_token()}"}
        _expect_2xx(settings.token_read_version, http_event("GET", "/v1/users/me", bearer))


def _expect_2xx(version: str, event: dict[str, Any]) -> None:
    route = event["routeKey"]
    response = lambda_client().invoke(FunctionName=version, Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError") or not isinstance(payload, dict):
        raise DeployCheckFailed(f"{version} failed on {route}: {payload}")
    status = payload.get("statusCode")
    if not isinstance(status, int) or not 200 <= status < 300:
        raise DeployCheckFailed(f"{version} answered {status} on {route}: {str(payload.get('body'))[:500]}")
    logger.info("New version answered", extra={"version": version, "route": route, "status": status})


@cache
def lambda_client() -> Any:
    import boto3
    from botocore.config import Config

    # A new version's first request may restore a snapshot or start cold: a generous read timeout, no retry.
    return boto3.client("lambda", config=Config(read_timeout=60, retries={"max_attempts": 1, "mode": "standard"}))
