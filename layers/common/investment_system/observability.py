"""Logger, metrics and tracer: made once per container, shared by every module of a function.

Log lines are JSON with the request's correlation ID, secrets redacted by key name and by shape.
Metrics are CloudWatch EMF in one namespace (names in `MetricName`, dimensions in `Dimension`), per
function and route and rolled up by service; the dashboard and alarms are generated from them, and
METRICS_FILE keeps a copy locally. The tracer is made only when tracing is on: the X-Ray SDK is a
heavy import that a cold start without tracing should not pay.
"""

from __future__ import annotations

import json
import re
import threading
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
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

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


class Dimension(StrEnum):
    """The dimensions of every metric; each request's metrics carry all three."""

    SERVICE = "service"
    FUNCTION = "function_name"  # the name Powertools gives it; its value is the Lambda function's name
    ROUTE = "route"  # the HTTP API route key: "GET /v1/signals/{id}", or "$default"


class _EmfProvider(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider, also appending each EMF document to METRICS_FILE when that is set.

    Every document Powertools prints (at flush, and when a set reaches 100 values) is serialised
    here first, so this one override sees them all.
    """

    _file_lock = threading.Lock()

    def serialize_metric_set(
        self, metrics: dict[str, Any] | None = None, dimensions: dict[str, Any] | None = None, metadata: Any = None
    ) -> Any:
        document = super().serialize_metric_set(metrics, dimensions, metadata)
        if _settings.metrics_file:
            line = json.dumps(document, separators=(",", ":")) + "\n"
            with self._file_lock, open(_settings.metrics_file, "a", encoding="utf-8") as sink:
                sink.write(line)
        return document


metrics = Metrics(provider=_EmfProvider(namespace=_settings.metrics_namespace, service=_settings.service_name))

_correlation_id: ContextVar[str] = ContextVar("correlation_id", default="")


def set_correlation_id(value: str) -> None:
    _correlation_id.set(value)
    logger.set_correlation_id(value)


def correlation_id() -> str:
    return _correlation_id.get()


class MetricName(StrEnum):
    """Every metric the code emits; the dashboard in template.yaml shows each of them.

    A name ending in "Latency" is in milliseconds, any other is a count (`unit_of`). Names that are
    not request, function or database metrics are business KPIs: the dashboard gives each a graph.
    """

    # Every HTTP request (http/resolver.py), per function and route
    REQUEST_LATENCY = "RequestLatency"
    REQUESTS_2XX = "Requests2xx"
    REQUESTS_4XX = "Requests4xx"
    REQUESTS_5XX = "Requests5xx"
    # Once per container (a fresh start or a SnapStart restore), per function
    COLD_START = "ColdStart"
    # Every unit of work (db/engine.py)
    DATABASE_LATENCY = "DatabaseLatency"
    DATABASE_UNAVAILABLE = "DatabaseUnavailable"
    # Accounts (services/accounts/credentials.py, services/accounts/login_sessions.py)
    SIGNUPS = "Signups"
    LOGINS_SUCCEEDED = "LoginsSucceeded"
    LOGINS_FAILED = "LoginsFailed"
    LOCKOUTS = "Lockouts"
    TOKEN_REFRESHES = "TokenRefreshes"  # noqa: S105 (a metric name)
    REFRESH_TOKEN_REUSE = "RefreshTokenReuseDetected"  # noqa: S105 (a metric name)
    # Billing, quotas and rate limits
    PLAN_CHANGED = "PlanChanged"
    CHECKOUTS_CREATED = "CheckoutsCreated"
    CHECKOUTS_COMPLETED = "CheckoutsCompleted"
    CHECKOUTS_EXPIRED = "CheckoutsExpired"  # purged unpaid, expired or replaced (services/system/housekeeping.py)
    PAYMENTS_WITHOUT_CHECKOUT = "PaymentsWithoutCheckout"  # invoice.paid for a plan no pending checkout asked for
    # invoice.paid whose amount, currency or plan is not the checkout's it names: not applied (an alarm watches it)
    PAYMENTS_MISMATCHED = "PaymentsMismatched"
    DOWNGRADES_APPLIED = "DowngradesApplied"  # scheduled plan changes and cancellations taking effect
    DUNNING_DOWNGRADES = "DunningDowngrades"  # PAST_DUE past the grace period, back to free
    WEBHOOKS_RECEIVED = "WebhooksReceived"
    WEBHOOKS_APPLIED = "WebhooksApplied"
    WEBHOOKS_DUPLICATE = "WebhooksDuplicate"
    WEBHOOKS_IGNORED = "WebhooksIgnored"
    WEBHOOKS_REJECTED = "WebhooksRejected"
    QUOTA_EXCEEDED = "QuotaExceeded"
    RATE_LIMIT_EXCEEDED = "RateLimitExceeded"
    RATE_LIMITER_UNAVAILABLE = "RateLimiterUnavailable"
    IDEMPOTENT_REPLAYS = "IdempotentReplays"
    # Housekeeping (services/system/housekeeping.py): rows of expired records deleted
    ROWS_PURGED = "RowsPurged"
    # Real-time stream (services/stream/connections.py, services/stream/delivery.py)
    STREAM_CONNECTIONS_OPEN = "StreamConnectionsOpen"  # a gauge: open connections, after each connect and disconnect
    STREAM_HANDSHAKES_REFUSED = "StreamHandshakesRefused"  # bad tickets, rate limits
    STREAM_EVENTS_PUSHED = "StreamEventsPushed"
    STREAM_PUSH_FAILURES = "StreamPushFailures"  # PostToConnection errors other than a connection gone
    STREAM_REPLAY_SIZE = "StreamReplaySize"  # events a reconnect with last_event_id asked to be sent again
    # Signals (services/signals/lifecycle.py, expiry.py, analytics.py), by direction
    SIGNALS_CREATED_BUY = "SignalsCreatedBuy"
    SIGNALS_CREATED_SELL = "SignalsCreatedSell"
    SIGNALS_CLOSED_BUY = "SignalsClosedBuy"
    SIGNALS_CLOSED_SELL = "SignalsClosedSell"
    SIGNALS_EXPIRED_BUY = "SignalsExpiredBuy"
    SIGNALS_EXPIRED_SELL = "SignalsExpiredSell"
    SIGNAL_ANALYTICS_LATENCY = "SignalAnalyticsLatency"
    # The analytics cache (services/signals/analytics_cache.py): answers from it, computed, and its failures
    ANALYTICS_CACHE_HITS = "AnalyticsCacheHits"
    ANALYTICS_CACHE_MISSES = "AnalyticsCacheMisses"
    ANALYTICS_CACHE_UNAVAILABLE = "AnalyticsCacheUnavailable"


_UNITS = {name: MetricUnit.Milliseconds if name.endswith("Latency") else MetricUnit.Count for name in MetricName}


def unit_of(name: MetricName) -> MetricUnit:
    return _UNITS[name]


def add_metric(name: MetricName, value: float = 1) -> None:
    # A MetricName is a str: neither its `.value` nor its unit is worked out again on each call.
    metrics.add_metric(name=name, unit=_UNITS[name], value=value)


def start_request_metrics(function_name: str, route: str) -> None:
    """Dimensions of the metrics a request emits: its function and route, plus a roll-up by service.

    The request's correlation ID rides along as metadata (not a dimension: it would make a metric per
    request), so a document found in the logs leads to that request's log lines.
    """
    metrics.add_dimension(name=Dimension.FUNCTION.value, value=function_name)
    metrics.add_dimension(name=Dimension.ROUTE.value, value=route)
    metrics.add_dimensions(**{Dimension.SERVICE.value: _settings.service_name})
    metrics.add_metadata(key="correlation_id", value=correlation_id())


def record_cold_start(function_name: str) -> None:
    """One ColdStart for the function, in a document of its own (it has no route)."""
    provider = _EmfProvider(namespace=_settings.metrics_namespace, service=_settings.service_name)
    provider.add_dimension(name=Dimension.FUNCTION.value, value=function_name)
    provider.add_metric(name=MetricName.COLD_START.value, unit=unit_of(MetricName.COLD_START), value=1)
    provider.flush_metrics()


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
        add_metric(metric, (time.perf_counter() - start) * 1000)
