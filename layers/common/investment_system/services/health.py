"""Dependency checks behind GET /v1/health."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import text

from investment_system.db import get_engine
from investment_system.http.envelope import utc_timestamp
from investment_system.observability import MetricName, correlation_id, logger, timed, traced
from investment_system.schemas.health import DependencyStatus, HealthReport
from investment_system.settings import get_settings

# Non-critical checks register here (the rate-limit backend, for one): when they fail the API is
# "degraded", not "unhealthy".
_optional_checks: dict[str, Callable[[], None]] = {}


def register_optional_check(name: str, check: Callable[[], None]) -> None:
    _optional_checks[name] = check


def _ping_database() -> None:
    # A connection, not a unit of work: the ORM session would add sqlalchemy.orm to this function's
    # cold start. A failure is reported as "down" by _probe.
    with traced("database"), timed(MetricName.DATABASE_LATENCY), get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))


def _probe(check: Callable[[], None], critical: bool) -> DependencyStatus:
    started = time.perf_counter()
    try:
        check()
    except Exception as error:
        logger.warning("Health check failed", extra={"error_type": type(error).__name__})
        return DependencyStatus(status="down", critical=critical)
    return DependencyStatus(status="up", latency_ms=round((time.perf_counter() - started) * 1000, 2), critical=critical)


def check_health() -> HealthReport:
    dependencies = {"database": _probe(_ping_database, critical=True)}
    dependencies |= {name: _probe(check, critical=False) for name, check in _optional_checks.items()}
    if any(dep.status == "down" and dep.critical for dep in dependencies.values()):
        status = "unhealthy"
    elif any(dep.status == "down" for dep in dependencies.values()):
        status = "degraded"
    else:
        status = "healthy"
    settings = get_settings()
    return HealthReport(
        status=status,
        version=settings.version,
        environment=settings.environment.value,
        timestamp=utc_timestamp(),
        correlation_id=correlation_id(),
        dependencies=dependencies,
    )


def _ping_rate_limiter() -> None:
    from investment_system.services.rate_limit import get_rate_limiter

    get_rate_limiter().counters.ping()


register_optional_check("rate_limiter", _ping_rate_limiter)
