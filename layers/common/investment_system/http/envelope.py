"""The contract's error envelope: its models and the one function that renders it."""

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from pydantic import Field

from investment_system.errors import CATALOGUE, AppError, AuthenticationError, ErrorCode, RequestError
from investment_system.http.rate_limit import rate_limit_headers
from investment_system.observability import correlation_id
from investment_system.schemas import ApiModel, Timestamp, utc_timestamp
from investment_system.services.system.rate_limit import RateLimitExceeded


class FieldError(ApiModel):
    field: str = Field(description="Where: a dotted path into the body (a.b), or query.<name>.", examples=["symbol"])
    message: str
    type: str = Field(description="Which rule failed.", examples=["string_pattern_mismatch"])


class ErrorBody(ApiModel):
    code: str = Field(description="The error's code in the catalogue.", examples=["SIGNAL_NOT_FOUND"])
    message: str = Field(description="For people; may change, unlike the code.")
    details: list[FieldError] | None = Field(
        description="What failed, field by field (VALIDATION_ERROR, PASSWORD_TOO_WEAK, INVALID_SIGNAL_LEVELS...); "
        "null for other errors."
    )
    correlation_id: str
    timestamp: Timestamp


class ErrorEnvelope(ApiModel):
    """Every error response of every route has this body."""

    error: ErrorBody


def envelope(code: ErrorCode, message: str | None = None, details: Any = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code.value,
            "message": message or CATALOGUE[code].message,
            "details": details,
            "correlation_id": correlation_id(),
            "timestamp": utc_timestamp(),
        }
    }


class MethodNotAllowed(RequestError):
    """405 METHOD_NOT_ALLOWED: the path is served, with `allowed` methods only."""

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(ErrorCode.METHOD_NOT_ALLOWED)
        self.allowed = allowed


def error_headers(error: AppError) -> dict[str, str]:
    """What an error says in headers: how to authenticate, when a repeat may succeed, the rate limit that
    refused the request, the methods a path allows."""
    headers = rate_limit_headers(error.decision) if isinstance(error, RateLimitExceeded) else {}
    if isinstance(error, MethodNotAllowed):
        headers["Allow"] = ", ".join(error.allowed)
    if isinstance(error, AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="invest"'
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return headers


def error_response(error: AppError) -> Response[str]:
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(envelope(error.code, error.message, error.details)),
        headers=error_headers(error),
    )


def error_dict(
    code: ErrorCode, message: str | None = None, headers: dict[str, str] | None = None, details: Any = None
) -> dict[str, Any]:
    """The envelope as a finished API Gateway response, for paths outside the resolver."""
    return {
        "statusCode": CATALOGUE[code].status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON, **(headers or {})},
        "body": json.dumps(envelope(code, message, details)),
        "isBase64Encoded": False,
    }
