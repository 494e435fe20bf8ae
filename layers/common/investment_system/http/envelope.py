"""The contract's error envelope: its models and the one function that renders it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from pydantic import BaseModel

from investment_system.errors import CATALOGUE, AppError, ErrorCode
from investment_system.observability import correlation_id


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[FieldError] | list[dict[str, Any]] | dict[str, Any] | None = None
    correlation_id: str
    timestamp: str


class ErrorEnvelope(BaseModel):
    """Every error response of every route has this body."""

    error: ErrorBody


def utc_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def error_response(error: AppError) -> Response[str]:
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(envelope(error.code, error.message, error.details)),
        headers=error.headers,
    )


def error_dict(code: ErrorCode, message: str | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The envelope as a finished API Gateway response, for paths outside the resolver."""
    return {
        "statusCode": CATALOGUE[code].status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON, **(headers or {})},
        "body": json.dumps(envelope(code, message)),
        "isBase64Encoded": False,
    }
