"""Functions a stack invokes while it deploys, as a CloudFormation custom resource: `custom_resource_handler`.

CloudFormation sends `RequestType` (Create, Update, Delete) and a pre-signed `ResponseURL`, then waits
for a PUT of the outcome there. A function that never answers leaves the stack waiting until the
resource's ServiceTimeout, so `run_custom_resource` answers whatever happens, failures included.
Only the standard library here (no logger, no metrics): this module must work when the rest of the
layer cannot even load (a configuration error is exactly what the stack should be told about).
"""

from __future__ import annotations

import json
import traceback
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from investment_system.init_phase import end_of_init

Action = Callable[[], Mapping[str, Any]]
_REASON_LIMIT = 1000  # CloudFormation shows the reason in the stack events; keep it readable


def custom_resource_handler(action: Action) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler of a custom resource: `action` on Create and Update, nothing on Delete, the outcome
    sent to CloudFormation; invoked by hand (no custom-resource event), the action's result is returned."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if is_custom_resource_event(event):
            return run_custom_resource(event, action)
        return dict(action())

    end_of_init()
    return handler


def is_custom_resource_event(event: Mapping[str, Any]) -> bool:
    return "ResponseURL" in event and "RequestType" in event


def run_custom_resource(event: Mapping[str, Any], on_create_or_update: Action) -> dict[str, Any]:
    """Run `on_create_or_update` for Create and Update (Delete does nothing) and report to CloudFormation.

    The action's result becomes the resource's attributes (`!GetAtt Resource.Key`).
    """
    physical_id = str(event.get("PhysicalResourceId") or event["LogicalResourceId"])
    try:
        data = dict(on_create_or_update()) if event["RequestType"] in ("Create", "Update") else {}
        response = _response(event, physical_id, "SUCCESS", "", data)
    except Exception as error:
        reason = _redacted(f"{type(error).__name__}: {error}")
        trace = _redacted(traceback.format_exc())
        print(json.dumps({"level": "ERROR", "message": "Custom resource failed", "reason": reason, "trace": trace}))
        response = _response(event, physical_id, "FAILED", reason[:_REASON_LIMIT], {})
    _send(str(event["ResponseURL"]), response)
    return response


def _response(
    event: Mapping[str, Any], physical_id: str, status: str, reason: str, data: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": {key: str(value) for key, value in data.items()},
    }


def _send(url: str, response: Mapping[str, Any]) -> None:
    body = json.dumps(response).encode()
    # The pre-signed S3 URL is signed without a content type: send none.
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": ""})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 (the URL is CloudFormation's)
        reply.read()


def _redacted(text: str) -> str:
    try:
        from investment_system.observability import redact
    except Exception:  # the layer may be what failed to load; the reason then carries no payload
        return text
    return str(redact(text))
