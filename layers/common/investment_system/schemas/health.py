"""GET /v1/health response."""

from typing import Literal

from pydantic import Field

from investment_system.schemas import ALWAYS_SENT, ApiModel, Timestamp


class DependencyStatus(ApiModel):
    model_config = ALWAYS_SENT

    status: Literal["up", "down"]
    latency_ms: float | None = Field(default=None, description="Round-trip time of the check")
    critical: bool = Field(description="Whether the API is unhealthy without it")


class Dependencies(ApiModel):
    database: DependencyStatus = Field(description="Critical: down makes the API unhealthy.")
    rate_limiter: DependencyStatus = Field(description="The rate limiter's counters; down makes the API degraded.")


class HealthReport(ApiModel):
    status: Literal["healthy", "degraded", "unhealthy"]
    version: str
    environment: str
    timestamp: Timestamp
    correlation_id: str
    dependencies: Dependencies
