"""GET /v1/health response."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class DependencyStatus(BaseModel):
    status: Literal["up", "down"]
    latency_ms: float | None = Field(default=None, description="Round-trip time of the check")
    critical: bool = Field(description="Whether the API is unhealthy without it")


class HealthReport(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"]
    version: str
    environment: str
    timestamp: str
    correlation_id: str
    dependencies: dict[str, DependencyStatus]
