"""GET /v1/health response."""

from enum import StrEnum

from pydantic import Field

from investment_system.schemas import ALWAYS_SENT, ApiModel, Timestamp


class DependencyState(StrEnum):
    UP = "up"
    DOWN = "down"


class HealthStatus(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


class DependencyStatus(ApiModel):
    model_config = ALWAYS_SENT

    status: DependencyState
    latency_ms: float | None = Field(default=None, description="Round-trip time of the check")
    critical: bool = Field(description="Whether the API is unhealthy without it")


class Dependencies(ApiModel):
    database: DependencyStatus = Field(description="Critical: down makes the API unhealthy.")
    rate_limiter: DependencyStatus = Field(description="The rate limiter's counters; down makes the API degraded.")


class HealthReport(ApiModel):
    status: HealthStatus
    version: str
    environment: str
    timestamp: Timestamp
    correlation_id: str
    maintenance: bool = Field(description="The maintenance switch: routes that change data answer 503 while it is on.")
    dependencies: Dependencies
