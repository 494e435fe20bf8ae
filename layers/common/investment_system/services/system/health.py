"""Dependency checks behind GET /v1/health."""

from __future__ import annotations

import time
from collections.abc import Callable

from investment_system.observability import MetricName, correlation_id, logger, timed, traced
from investment_system.repositories.system.health import ping_database
from investment_system.schemas import utc_timestamp
from investment_system.schemas.health import Dependencies, DependencyState, DependencyStatus, HealthReport, HealthStatus
from investment_system.services.system.feature_flags import Flag, flag_enabled
from investment_system.settings import get_settings


def _ping_database() -> None:
    # A failure is reported as "down" by _probe.
    with traced("database"), timed(MetricName.DATABASE_LATENCY):
        ping_database()


def _ping_rate_limiter() -> None:
    from investment_system.services.system.rate_limit import get_rate_limiter

    get_rate_limiter().store.ping()


def _probe(check: Callable[[], None], critical: bool) -> DependencyStatus:
    started = time.perf_counter()
    try:
        check()
    except Exception as error:
        logger.warning("Health check failed", extra={"error_type": type(error).__name__})
        return DependencyStatus(status=DependencyState.DOWN, critical=critical)
    return DependencyStatus(
        status=DependencyState.UP, latency_ms=round((time.perf_counter() - started) * 1000, 2), critical=critical
    )


def check_health() -> HealthReport:
    # A rate limiter that is down, or maintenance, makes the API "degraded", not "unhealthy".
    dependencies = Dependencies(
        database=_probe(_ping_database, critical=True), rate_limiter=_probe(_ping_rate_limiter, critical=False)
    )
    maintenance = flag_enabled(Flag.MAINTENANCE)
    checked = (dependencies.database, dependencies.rate_limiter)
    if any(dep.status is DependencyState.DOWN and dep.critical for dep in checked):
        status = HealthStatus.UNHEALTHY
    elif maintenance or any(dep.status is DependencyState.DOWN for dep in checked):
        status = HealthStatus.DEGRADED
    else:
        status = HealthStatus.HEALTHY
    settings = get_settings()
    return HealthReport(
        status=status,
        version=settings.version,
        environment=settings.environment.value,
        timestamp=utc_timestamp(),
        correlation_id=correlation_id(),
        maintenance=maintenance,
        dependencies=dependencies,
    )
