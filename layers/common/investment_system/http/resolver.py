"""The resolver factory, and the answer to an HTTP API event (`respond`, which the entry point calls).

Powertools runs request validation before user middlewares, and responses made by exception
handlers skip middlewares altogether. So the headers every response must carry (security headers,
Cache-Control, X-Correlation-ID, rate-limit headers) are applied in `respond`, around
`app.resolve`, where success, 4xx, 5xx and not-found responses all pass.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import BaseMiddlewareHandler, NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from investment_system.errors import AppError, ErrorCode, ValidationFailed, field_errors
from investment_system.http.compat import (
    current_route,
    is_registered_route,
    prime_validation,
    query_parameter_names,
    registered_routes,
    wrap_request_validation,
)
from investment_system.http.envelope import error_dict, error_headers, error_response
from investment_system.http.headers import header
from investment_system.http.maintenance import maintenance_guard
from investment_system.http.rate_limit import rate_limit_guard
from investment_system.http.request_body import (
    json_body_parser,
    json_readable,
    require_json_body,
    require_json_media_type,
)
from investment_system.http.request_parameters import (
    refuse_control_characters,
    refuse_control_characters_in_headers,
)
from investment_system.http.route_facts import declared_facts
from investment_system.observability import (
    MetricName,
    add_metric,
    correlation_id,
    logger,
)
from investment_system.services.system.rate_limit import get_rate_limiter
from investment_system.settings import get_settings

CORRELATION_HEADER = "X-Correlation-ID"
_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
CORS_ALLOW_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
    CORRELATION_HEADER,
    "X-Signature",
]
CORS_EXPOSE_HEADERS = [
    CORRELATION_HEADER,
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Idempotent-Replayed",
    "ETag",
]


def create_app(*, exact_decimals: bool = False, cors: bool = True, validation: bool = True) -> APIGatewayHttpResolver:
    """An HTTP API resolver with validation, CORS from settings and the contract's error handling.

    `exact_decimals`: read JSON numbers in request bodies as `Decimal`s, not floats, so a price sent
    as a number keeps every digit (1234567890.12345678 would not survive a float).
    `cors`: False for the catch-all, which answers preflight requests for every route itself.
    `validation`: False for an app whose routes take no parameters, body or token and return text
    (health, docs, the catch-all): Powertools' validation machinery is then not loaded at all.
    """
    app = APIGatewayHttpResolver(
        cors=cors_config() if cors else None,
        enable_validation=validation,
        json_body_deserializer=json_body_parser(exact_decimals=exact_decimals),
    )
    if validation:
        wrap_request_validation(app, CheckBeforeValidation)
        # Only an app that validates has routes taking a token; the others never load authentication.
        # Wrapped last, it runs first: authentication, then the checks, then Powertools' validation.
        from investment_system.http.auth import authenticate_before_validation

        authenticate_before_validation(app)
    app.use(middlewares=[_reject_unknown_query_parameters])
    _register_error_handlers(app)
    return app


def cors_config() -> CORSConfig:
    """CORS from settings: the allowed origins, and the headers the contract's clients send and read."""
    origins = get_settings().cors.allowed_origins or ["*"]
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:],
        allow_headers=CORS_ALLOW_HEADERS,
        expose_headers=CORS_EXPOSE_HEADERS,
        max_age=get_settings().cors.max_age_seconds,
    )


class CheckBeforeValidation(BaseMiddlewareHandler[APIGatewayHttpResolver]):
    """Powertools' request validation, preceded by what no route's model should have to say: no control
    character in a query or path parameter (http/request_parameters.py), and a JSON Content-Type for a
    route that takes a body, even when none came (http/request_body.py)."""

    def __init__(self, validation: BaseMiddlewareHandler[APIGatewayHttpResolver]) -> None:
        super().__init__()
        self.validation = validation

    def handler(self, app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        event = app.current_event.raw_event
        refuse_control_characters(event)
        route = current_route(app)
        if route is not None and route.body_field is not None:
            require_json_media_type(event)
        return self.validation(app, next_middleware)


def _reject_unknown_query_parameters(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """422 for a query parameter the route does not declare: a typo'd filter must not silently list everything."""
    route = current_route(app)
    given = app.current_event.query_string_parameters or {}
    # Only routes the app registered; the synthetic not-found route must still answer 404/405.
    if given and route is not None and is_registered_route(app, route):
        unknown = sorted(set(given) - query_parameter_names(route))
        if unknown:
            details = [
                {"field": f"query.{name}", "message": "Unknown query parameter", "type": "extra_forbidden"}
                for name in unknown
            ]
            raise ValidationFailed(ErrorCode.VALIDATION_ERROR, details=details)
    return next_middleware(app)


def _register_error_handlers(app: APIGatewayHttpResolver) -> None:
    @app.exception_handler(AppError)
    def _app_error(error: AppError) -> Any:
        if error.status >= 500:
            logger.warning("Request failed", extra={"code": error.code.value})
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Any:
        # Bodies that are not JSON never get here: parse_json_body refuses them first.
        return error_response(AppError(ErrorCode.VALIDATION_ERROR, details=field_errors(error.errors())))

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported_media(_: RequestUnsupportedContentType) -> Any:
        return error_response(AppError(ErrorCode.UNSUPPORTED_MEDIA_TYPE))

    @app.not_found
    def _not_found(_: NotFoundError) -> Any:
        return error_response(AppError(ErrorCode.ROUTE_NOT_FOUND))

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Any:
        logger.exception("Unhandled error", extra={"error_type": type(error).__name__})
        return error_response(AppError(ErrorCode.INTERNAL_ERROR))


def correlation_id_for(event: Mapping[str, Any]) -> str:
    """The caller's X-Correlation-ID when well-formed, else a new one."""
    candidate = header(event.get("headers"), "x-correlation-id")
    if _CORRELATION_ID.match(candidate):
        return candidate
    return str(uuid.uuid4())


def _finish(response: dict[str, Any], no_store: bool, cid: str, extra_headers: Mapping[str, str]) -> dict[str, Any]:
    headers = response.setdefault("headers", {})
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)  # the docs page brings its own CSP
    if no_store:
        headers["Cache-Control"] = "no-store"
    # CORS headers come for an allowed Origin only (and echo it), so every answer depends on Origin:
    # a shared cache must not give one origin's answer to another.
    headers["Vary"] = "Origin"
    headers.update(extra_headers)
    headers[CORRELATION_HEADER] = cid
    return response


def respond(app: APIGatewayHttpResolver, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The answer to an HTTP API event: the request guards, `app.resolve`, any error as the contract's
    envelope, and the headers every response carries (the request's correlation ID is already set)."""
    route_key = str(event.get("routeKey") or "$default")
    facts = declared_facts(app, route_key)
    extra_headers: dict[str, str] = {}
    try:
        # Before routing: the rate limit reads the token, so the header check comes first.
        refuse_control_characters_in_headers(event, route_key)
        extra_headers.update(rate_limit_guard(event, facts.rate_limit))
        maintenance_guard(event, route_key, facts)
        require_json_body(event, route_key)
        response = app.resolve(json_readable(event), context)
    except AppError as error:
        extra_headers.update(error_headers(error))
        response = error_dict(error.code, error.message, details=error.details)
    except Exception:
        logger.exception("Unhandled error outside the resolver")
        response = error_dict(ErrorCode.INTERNAL_ERROR)
    no_store = facts.stores_nothing(str(event.get("rawPath") or "/"))
    return _finish(response, no_store, correlation_id(), extra_headers)


def prime(app: APIGatewayHttpResolver) -> None:
    """Before a SnapStart snapshot: what the app's first request would build or import (the settings,
    each route's validators, the rate limiter), so that it is in the snapshot; an app that
    authenticates primes that too (http/auth.py)."""
    get_settings()
    for route in registered_routes(app):
        prime_validation(app, route)
    get_rate_limiter()


def record_request(status: int, started: float) -> None:
    """A request's latency and status class (the WebSocket routes record theirs here too)."""
    add_metric(MetricName.REQUEST_LATENCY, (time.perf_counter() - started) * 1000)
    status_metric = {2: MetricName.REQUESTS_2XX, 4: MetricName.REQUESTS_4XX, 5: MetricName.REQUESTS_5XX}.get(
        status // 100
    )
    if status_metric is not None:
        add_metric(status_metric)
