"""Logger, metrics and tracer: made once per container, shared by every module of a function.

- Every log line is JSON (Powertools Logger) with the request's correlation ID, and passes through
  a formatter that redacts secrets (passwords, tokens, keys) by key name and by shape.
- Metrics go out as CloudWatch EMF through Powertools Metrics; their names live in `MetricName`.
- The tracer is created only when tracing is enabled: `Tracer()` loads the X-Ray SDK, which
  would cost most of a cold start for nothing when tracing is off.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit

from investment_system.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

REDACTED = "[REDACTED]"
_SENSITIVE_KEY = re.compile(r"pass(word)?|secret|token|authorization|cookie|api[_-]?key|signature|credential", re.I)
_SENSITIVE_TEXT = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + REDACTED),
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),  # JWTs
    (re.compile(r"(?i)((?:password|secret|token)\w*[\"']?\s*[:=]\s*[\"']?)[^\s,\"'}]+"), r"\1" + REDACTED),
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), r"\1" + REDACTED + "@"),  # credentials in URLs
]


def redact(value: Any) -> Any:
    """Copy of a log payload with secrets masked, by key name and by shape."""
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and _SENSITIVE_KEY.search(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, BaseException):  # the stack trace carries the exception object itself
        value = str(value)
    if isinstance(value, str):
        for pattern, replacement in _SENSITIVE_TEXT:
            value = pattern.sub(replacement, value)
        return value
    return value


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with secrets masked before serialisation."""

    _KEEP = frozenset({"correlation_id", "xray_trace_id", "function_request_id"})

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        keep = {k: log[k] for k in self._KEEP if k in log}
        return super().serialize(log={**redact(log), **keep})


_settings = get_settings().observability
logger = Logger(
    service=_settings.service_name,
    level=_settings.log_level,
    logger_formatter=RedactingFormatter(),
)
metrics = Metrics(namespace=_settings.metrics_namespace, service=_settings.service_name)

_correlation_id: ContextVar[str] = ContextVar("correlation_id", default="")


def set_correlation_id(value: str) -> None:
    _correlation_id.set(value)
    logger.set_correlation_id(value)


def correlation_id() -> str:
    return _correlation_id.get()


class MetricName(StrEnum):
    """Every metric the code emits; the dashboard in template.yaml shows each of them."""

    REQUEST_LATENCY = "RequestLatency"
    REQUESTS_2XX = "Requests2xx"
    REQUESTS_4XX = "Requests4xx"
    REQUESTS_5XX = "Requests5xx"
    DATABASE_LATENCY = "DatabaseLatency"
    DATABASE_UNAVAILABLE = "DatabaseUnavailable"
    # Billing, quotas and rate limits
    PLAN_CHANGED = "PlanChanged"
    WEBHOOKS_RECEIVED = "WebhooksReceived"
    WEBHOOKS_APPLIED = "WebhooksApplied"
    WEBHOOKS_DUPLICATE = "WebhooksDuplicate"
    WEBHOOKS_IGNORED = "WebhooksIgnored"
    WEBHOOKS_REJECTED = "WebhooksRejected"
    QUOTA_EXCEEDED = "QuotaExceeded"
    RATE_LIMIT_EXCEEDED = "RateLimitExceeded"
    RATE_LIMITER_UNAVAILABLE = "RateLimiterUnavailable"
    IDEMPOTENT_REPLAYS = "IdempotentReplays"


def add_metric(name: MetricName, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    metrics.add_metric(name=name.value, unit=unit, value=value)


@cache
def get_tracer() -> Tracer | None:
    """The X-Ray tracer when TRACING_ENABLED, else None (and the SDK is never imported)."""
    if not get_settings().observability.tracing_enabled:
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(service=_settings.service_name)


@contextmanager
def traced(name: str) -> Iterator[None]:
    """A tracing subsegment around a block when tracing is on; nothing otherwise."""
    tracer = get_tracer()
    if tracer is None:
        yield
        return
    with tracer.provider.in_subsegment(name):
        yield


@contextmanager
def timed(metric: MetricName) -> Iterator[None]:
    """Record how long a block took, in milliseconds."""
    start = time.perf_counter()
    try:
        yield
    finally:
        add_metric(metric, (time.perf_counter() - start) * 1000, MetricUnit.Milliseconds)
