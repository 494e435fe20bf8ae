"""The AWS APIs the functions call, emulated by the gateway so that the same code runs locally.

The WebSocket API's Management API at MANAGEMENT_PREFIX (PostToConnection, GetConnection,
DeleteConnection; 410 for a connection gone) and Lambda's Invoke (an Event invocation answers 202
and runs in the background). Served on 127.0.0.1 only, on a listener of their own, to requests
SigV4-signed with the workers' credentials (`sigv4`), else 403 as AWS answers (docs/security.md).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import unquote

from botocore.credentials import Credentials

from invest_dev.gateway.request import HttpRequest
from invest_dev.gateway.responses import GatewayError, HttpResponse
from invest_dev.gateway.sigv4 import signature_refusal

STREAM_PATH = "/v1/stream"
MANAGEMENT_PREFIX = f"{STREAM_PATH}/@connections/"
INVOKE_PREFIX = "/2015-03-31/functions/"
INVOKE_SUFFIX = "/invocations"
DELIVERY_FUNCTION = "StreamDeliveryFunction"


def local_credentials() -> Credentials:
    """The credentials the workers sign with: the developer's own when set (the workers inherit them),
    else stand-ins with a secret made for this run, so that no one else can sign for them."""
    return Credentials(
        os.environ.get("AWS_ACCESS_KEY_ID", "local"), os.environ.get("AWS_SECRET_ACCESS_KEY", secrets.token_hex(32))
    )


def local_aws_environment(base_url: str, credentials: Credentials) -> dict[str, str]:
    """What the workers need to reach this gateway's AWS APIs with boto3: endpoints, a region and
    the credentials `AwsApis` checks signatures against."""
    return {
        "STREAM_MANAGEMENT_ENDPOINT": base_url + STREAM_PATH,
        "STREAM_DELIVERY_FUNCTION": DELIVERY_FUNCTION,
        "AWS_ENDPOINT_URL_LAMBDA": base_url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
    }


class StreamConnections(Protocol):
    """The open WebSocket connections (invest_dev.gateway.websocket)."""

    def send(self, connection_id: str, text: str) -> bool: ...

    def describe(self, connection_id: str) -> dict[str, Any] | None: ...

    def delete(self, connection_id: str) -> bool: ...


Invoker = Callable[[str, dict[str, Any]], Any]


class AwsApis:
    """Answers the requests of the AWS APIs' listener: only SigV4-signed calls of the two APIs."""

    def __init__(
        self,
        connections: StreamConnections,
        invoke: Invoker,
        functions: Mapping[str, float],
        credentials: Credentials,
    ) -> None:
        self._connections = connections
        self._invoke = invoke
        self._functions = functions  # logical ID -> timeout (s)
        self.credentials = credentials

    def answer(self, request: HttpRequest) -> HttpResponse:
        service = _service(request.path)
        if service is None:
            return _error(404, "UnknownOperationException", "Unknown operation")
        target = request.path + (f"?{request.query}" if request.query else "")
        refusal = signature_refusal(self.credentials, service, request.method, target, request.headers, request.body)
        if refusal is not None:
            return _error(403, refusal.code, refusal.message)
        if service == "execute-api":
            return self._management(request.method, unquote(request.path.removeprefix(MANAGEMENT_PREFIX)), request.body)
        name = unquote(request.path.removeprefix(INVOKE_PREFIX).removesuffix(INVOKE_SUFFIX))
        return self._lambda_invoke(name, request.headers.get("x-amz-invocation-type", "RequestResponse"), request.body)

    def _management(self, method: str, connection_id: str, body: bytes) -> HttpResponse:
        if method == "POST":
            found = self._connections.send(connection_id, body.decode("utf-8", errors="replace"))
            return HttpResponse(200) if found else _gone()
        if method == "GET":
            described = self._connections.describe(connection_id)
            return _json(200, described) if described is not None else _gone()
        if method == "DELETE":
            return HttpResponse(204) if self._connections.delete(connection_id) else _gone()
        return _error(405, "MethodNotAllowedException", f"{method} is not a Management API method")

    def _lambda_invoke(self, name: str, invocation_type: str, payload: bytes) -> HttpResponse:
        # A function name, an ARN or name:qualifier: locally the template's logical ID.
        function = name.split(":")[6] if name.startswith("arn:") else name.split(":")[0]
        if function not in self._functions:
            return _error(404, "ResourceNotFoundException", f"Function not found: {name}")
        try:
            event = json.loads(payload or b"{}")
        except ValueError:
            return _error(400, "InvalidRequestContentException", "Could not parse request body into json")
        if invocation_type == "Event":
            threading.Thread(target=self._run_async, args=(function, event), daemon=True).start()
            return HttpResponse(202)
        try:
            result = self._invoke(function, event)
        except GatewayError:
            return HttpResponse(200, [("X-Amz-Function-Error", "Unhandled")], b'{"errorType":"Unhandled"}')
        return _json(200, result)

    def _run_async(self, function: str, event: dict[str, Any]) -> None:
        try:
            self._invoke(function, event)
        except GatewayError as error:  # the container logged the handler's own error
            print(
                json.dumps({"level": "ERROR", "source": "invest-gateway", "function": function, "message": str(error)}),
                file=sys.stderr,
                flush=True,
            )


def _service(path: str) -> str | None:
    """The AWS service whose API the path belongs to, as its signatures are scoped."""
    if path.startswith(MANAGEMENT_PREFIX):
        return "execute-api"
    if path.startswith(INVOKE_PREFIX) and path.endswith(INVOKE_SUFFIX):
        return "lambda"
    return None


def invocation_deadline(timeout_seconds: float) -> float:
    return time.monotonic() + timeout_seconds + 1.0


def _json(status: int, document: Any) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(document).encode())


def _error(status: int, code: str, message: str) -> HttpResponse:
    headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
    return HttpResponse(status, headers, json.dumps({"message": message}).encode())


def _gone() -> HttpResponse:
    return _error(410, "GoneException", "The connection is gone")
