"""The plan catalogue's models: what a token issuer, a quota check and the plans' listing read of a plan."""

from enum import StrEnum

from pydantic import ConfigDict, Field

from investment_system.domain import PlanCode
from investment_system.schemas import ApiModel


class PlanInterval(StrEnum):
    """How often a plan is billed."""

    MONTH = "month"


class PlanQuotas(ApiModel):
    model_config = ConfigDict(frozen=True)

    signals_per_day: int = Field(description="Signals a user may create per UTC day.")
    requests_per_minute: int = Field(description="Requests a user may make per minute, on every authenticated route.")


class Plan(ApiModel):
    model_config = ConfigDict(frozen=True)

    code: PlanCode
    name: str
    price_cents: int
    currency: str = Field(examples=["USD"])
    interval: PlanInterval
    quotas: PlanQuotas
    features: list[str]


class PlanList(ApiModel):
    items: list[Plan]
