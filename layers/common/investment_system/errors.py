"""The error-code catalogue and the typed exceptions services raise.

Every error the API returns has a code listed here, with its category, HTTP status and default
message: the status is the code's, whatever exception carries it. Services raise `AppError` (or a
subclass); `investment_system.http.envelope` is the one place that turns them into the contract's
envelope. Adding a code: docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar


class Category(StrEnum):
    """What kind of failure a code is; `ErrorCode` lists its codes in sections of this order."""

    REQUEST = "request"
    VALIDATION = "validation"
    AUTHENTICATION = "authentication"
    AUTHORIZATION = "authorization"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    BUSINESS_RULE = "business_rule"
    RATE_LIMIT = "rate_limit"
    INTEGRATION = "integration"
    AVAILABILITY = "availability"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    category: Category
    status: int
    message: str


class ErrorCode(StrEnum):
    # request: the request's shape
    MALFORMED_JSON = "MALFORMED_JSON"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_QUERY_PARAMETER = "INVALID_QUERY_PARAMETER"
    INVALID_IDEMPOTENCY_KEY = "INVALID_IDEMPOTENCY_KEY"
    INVALID_CURRENT_PASSWORD = "INVALID_CURRENT_PASSWORD"
    UNSUPPORTED_MESSAGE = "UNSUPPORTED_MESSAGE"
    MALFORMED_MESSAGE = "MALFORMED_MESSAGE"
    # validation: fields the schemas or the services refuse
    VALIDATION_ERROR = "VALIDATION_ERROR"
    PASSWORD_TOO_WEAK = "PASSWORD_TOO_WEAK"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_DATE_RANGE = "INVALID_DATE_RANGE"
    EXPIRY_IN_PAST = "EXPIRY_IN_PAST"
    # authentication: no or bad credentials
    AUTHENTICATION_REQUIRED = "AUTHENTICATION_REQUIRED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOKEN_INVALID = "TOKEN_INVALID"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    TOKEN_REVOKED = "TOKEN_REVOKED"
    WEBHOOK_SIGNATURE_INVALID = "WEBHOOK_SIGNATURE_INVALID"
    STREAM_TICKET_INVALID = "STREAM_TICKET_INVALID"
    # authorization: known, but not allowed
    PERMISSION_DENIED = "PERMISSION_DENIED"
    ACCOUNT_DISABLED = "ACCOUNT_DISABLED"
    ACCOUNT_LOCKED = "ACCOUNT_LOCKED"
    REGISTRATION_CLOSED = "REGISTRATION_CLOSED"
    # not_found: no such route or resource (or not the caller's)
    ROUTE_NOT_FOUND = "ROUTE_NOT_FOUND"
    USER_NOT_FOUND = "USER_NOT_FOUND"
    SIGNAL_NOT_FOUND = "SIGNAL_NOT_FOUND"
    PLAN_NOT_FOUND = "PLAN_NOT_FOUND"
    # conflict: the resource's state forbids the change
    EMAIL_ALREADY_REGISTERED = "EMAIL_ALREADY_REGISTERED"
    SIGNAL_NOT_OPEN = "SIGNAL_NOT_OPEN"
    CANNOT_MODIFY_SELF = "CANNOT_MODIFY_SELF"
    IDEMPOTENCY_IN_PROGRESS = "IDEMPOTENCY_IN_PROGRESS"
    PRECONDITION_FAILED = "PRECONDITION_FAILED"
    # business_rule: valid fields that break a rule together
    INVALID_SIGNAL_LEVELS = "INVALID_SIGNAL_LEVELS"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    PASSWORD_REUSED = "PASSWORD_REUSED"
    # rate_limit: a rate limit or quota refused
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    CONNECTION_LIMIT_EXCEEDED = "CONNECTION_LIMIT_EXCEEDED"
    # integration: a service the API depends on is down
    RATE_LIMITER_UNAVAILABLE = "RATE_LIMITER_UNAVAILABLE"
    # availability: the API itself cannot serve now
    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
    MAINTENANCE_MODE = "MAINTENANCE_MODE"
    # internal: anything unexpected
    INTERNAL_ERROR = "INTERNAL_ERROR"


_C = Category
CATALOGUE: dict[ErrorCode, ErrorSpec] = {
    ErrorCode.MALFORMED_JSON: ErrorSpec(_C.REQUEST, 400, "The request body is not valid JSON."),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: ErrorSpec(_C.REQUEST, 415, "The request body must be application/json."),
    ErrorCode.PAYLOAD_TOO_LARGE: ErrorSpec(_C.REQUEST, 413, "The request body is too large."),
    ErrorCode.METHOD_NOT_ALLOWED: ErrorSpec(_C.REQUEST, 405, "This method is not allowed on this path."),
    ErrorCode.INVALID_CURSOR: ErrorSpec(_C.REQUEST, 400, "The pagination cursor is invalid."),
    ErrorCode.INVALID_QUERY_PARAMETER: ErrorSpec(_C.REQUEST, 400, "A query parameter is invalid."),
    ErrorCode.INVALID_IDEMPOTENCY_KEY: ErrorSpec(_C.REQUEST, 400, "Idempotency-Key must be 1 to 255 characters."),
    ErrorCode.INVALID_CURRENT_PASSWORD: ErrorSpec(_C.REQUEST, 400, "The current password is incorrect."),
    ErrorCode.UNSUPPORTED_MESSAGE: ErrorSpec(
        _C.REQUEST, 400, 'The stream understands one message: {"action": "ping"}.'
    ),
    ErrorCode.MALFORMED_MESSAGE: ErrorSpec(
        _C.REQUEST, 400, "A message must be one JSON object of at most 4 KiB, its values neither objects nor arrays."
    ),
    ErrorCode.VALIDATION_ERROR: ErrorSpec(_C.VALIDATION, 422, "The request is invalid."),
    ErrorCode.PASSWORD_TOO_WEAK: ErrorSpec(_C.VALIDATION, 422, "The password does not meet the password policy."),
    ErrorCode.INVALID_EMAIL: ErrorSpec(_C.VALIDATION, 422, "The email address is invalid."),
    ErrorCode.INVALID_PRICE: ErrorSpec(_C.VALIDATION, 422, "The price is invalid."),
    ErrorCode.INVALID_DATE_RANGE: ErrorSpec(_C.VALIDATION, 422, "The date range is invalid."),
    ErrorCode.EXPIRY_IN_PAST: ErrorSpec(_C.VALIDATION, 422, "expires_at must lie in the future."),
    ErrorCode.AUTHENTICATION_REQUIRED: ErrorSpec(_C.AUTHENTICATION, 401, "Authentication is required."),
    ErrorCode.INVALID_CREDENTIALS: ErrorSpec(_C.AUTHENTICATION, 401, "Invalid email or password."),
    ErrorCode.TOKEN_INVALID: ErrorSpec(_C.AUTHENTICATION, 401, "The token is invalid."),
    ErrorCode.TOKEN_EXPIRED: ErrorSpec(_C.AUTHENTICATION, 401, "The token has expired."),
    ErrorCode.TOKEN_REVOKED: ErrorSpec(_C.AUTHENTICATION, 401, "The token has been revoked."),
    ErrorCode.WEBHOOK_SIGNATURE_INVALID: ErrorSpec(_C.AUTHENTICATION, 401, "The webhook signature is invalid."),
    ErrorCode.STREAM_TICKET_INVALID: ErrorSpec(
        _C.AUTHENTICATION, 401, "The stream ticket is missing, used, expired or not one of ours."
    ),
    ErrorCode.PERMISSION_DENIED: ErrorSpec(_C.AUTHORIZATION, 403, "You are not allowed to do this."),
    ErrorCode.ACCOUNT_DISABLED: ErrorSpec(_C.AUTHORIZATION, 403, "This account is disabled."),
    ErrorCode.ACCOUNT_LOCKED: ErrorSpec(_C.AUTHORIZATION, 423, "Too many failed logins; the account is locked."),
    ErrorCode.REGISTRATION_CLOSED: ErrorSpec(_C.AUTHORIZATION, 403, "Registration is closed."),
    ErrorCode.ROUTE_NOT_FOUND: ErrorSpec(_C.NOT_FOUND, 404, "No route matches this path."),
    ErrorCode.USER_NOT_FOUND: ErrorSpec(_C.NOT_FOUND, 404, "User not found."),
    ErrorCode.SIGNAL_NOT_FOUND: ErrorSpec(_C.NOT_FOUND, 404, "Signal not found."),
    ErrorCode.PLAN_NOT_FOUND: ErrorSpec(_C.NOT_FOUND, 404, "Plan not found."),
    ErrorCode.EMAIL_ALREADY_REGISTERED: ErrorSpec(_C.CONFLICT, 409, "This email is already registered."),
    ErrorCode.SIGNAL_NOT_OPEN: ErrorSpec(_C.CONFLICT, 409, "The signal is not open."),
    ErrorCode.CANNOT_MODIFY_SELF: ErrorSpec(_C.CONFLICT, 409, "Administrators cannot modify their own account here."),
    ErrorCode.IDEMPOTENCY_IN_PROGRESS: ErrorSpec(
        _C.CONFLICT, 409, "A request with this Idempotency-Key is still in progress."
    ),
    ErrorCode.PRECONDITION_FAILED: ErrorSpec(_C.CONFLICT, 412, "If-Match names a version that is no longer current."),
    ErrorCode.INVALID_SIGNAL_LEVELS: ErrorSpec(_C.BUSINESS_RULE, 422, "The signal's price levels are inconsistent."),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: ErrorSpec(
        _C.BUSINESS_RULE, 422, "This Idempotency-Key was used with a different request."
    ),
    ErrorCode.PASSWORD_REUSED: ErrorSpec(_C.BUSINESS_RULE, 422, "The new password must differ from the current one."),
    ErrorCode.RATE_LIMIT_EXCEEDED: ErrorSpec(_C.RATE_LIMIT, 429, "Too many requests; slow down."),
    ErrorCode.QUOTA_EXCEEDED: ErrorSpec(_C.RATE_LIMIT, 429, "The daily quota of your plan is used up."),
    ErrorCode.CONNECTION_LIMIT_EXCEEDED: ErrorSpec(
        _C.RATE_LIMIT, 429, "A newer connection of yours replaced this one: at most 5 stay open."
    ),
    ErrorCode.RATE_LIMITER_UNAVAILABLE: ErrorSpec(_C.INTEGRATION, 503, "The rate limiter is unavailable."),
    ErrorCode.DATABASE_UNAVAILABLE: ErrorSpec(_C.AVAILABILITY, 503, "The database is unavailable; try again shortly."),
    ErrorCode.MAINTENANCE_MODE: ErrorSpec(_C.AVAILABILITY, 503, "The service is under maintenance."),
    ErrorCode.INTERNAL_ERROR: ErrorSpec(_C.INTERNAL, 500, "An unexpected error occurred."),
}

# Codes the contract (API.md, "Errors") names for features not built yet; nothing raises them today.
# The feature that raises one takes it out of this set (tests/shared/test_errors.py holds both ways).
RESERVED_BY_CONTRACT: frozenset[ErrorCode] = frozenset()


class AppError(Exception):
    """An error with a catalogue code; its status is the code's, and `http` renders it as the envelope.

    A subclass names the categories of the codes it carries (`except` clauses catch by it); it never
    decides a status. Headers are `http`'s (http/envelope.py `error_headers`), from the error's type and
    `retry_after`."""

    categories: ClassVar[frozenset[Category]] = frozenset(Category)

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        *,
        details: Any = None,
        retry_after: int | None = None,
    ) -> None:
        self.code = code
        self.spec = CATALOGUE[code]
        self.message = message or self.spec.message
        self.details = details
        # Seconds after which repeating the request may succeed (http says it as Retry-After).
        self.retry_after = None if retry_after is None else max(1, retry_after)
        super().__init__(f"{code}: {self.message}")

    @property
    def status(self) -> int:
        return self.spec.status


class RequestError(AppError):
    """The request's shape is wrong."""

    categories = frozenset({Category.REQUEST})


class ValidationFailed(AppError):
    """A field, or a rule over several fields, refused the input."""

    categories = frozenset({Category.VALIDATION, Category.BUSINESS_RULE})


class AuthenticationError(AppError):
    """No or bad credentials; http answers it with WWW-Authenticate: Bearer."""

    categories = frozenset({Category.AUTHENTICATION})

    def __init__(self, code: ErrorCode = ErrorCode.AUTHENTICATION_REQUIRED, message: str | None = None) -> None:
        super().__init__(code, message)


class PermissionDenied(AppError):
    """Authenticated, but not allowed."""

    categories = frozenset({Category.AUTHORIZATION})


class NotFound(AppError):
    """The resource does not exist, or is not the caller's."""

    categories = frozenset({Category.NOT_FOUND})


class Conflict(AppError):
    """The resource's state forbids the change."""

    categories = frozenset({Category.CONFLICT})


class RateLimited(AppError):
    """A rate limit or quota refused the request; always with Retry-After."""

    categories = frozenset({Category.RATE_LIMIT})

    def __init__(self, code: ErrorCode, retry_after_seconds: int) -> None:
        super().__init__(code, retry_after=retry_after_seconds)


class Unavailable(AppError):
    """A dependency, or the API itself, cannot serve now."""

    categories = frozenset({Category.INTEGRATION, Category.AVAILABILITY})


def field_errors(problems: Any) -> list[dict[str, str]]:
    """Pydantic errors as the contract's `details`; the offending input is never echoed back."""
    details = []
    for problem in problems:
        loc = [str(part) for part in problem.get("loc", ())]
        if loc and loc[0] == "body":
            loc = loc[1:]
        message = str(problem.get("msg") or problem.get("type") or "invalid").removeprefix("Value error, ")
        details.append({"field": ".".join(loc) or "body", "message": message, "type": str(problem.get("type"))})
    return details
