"""Request and response models of the billing API and of the payment provider's webhook."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from investment_system.models.billing import SubscriptionStatus


class PlanQuotas(BaseModel):
    model_config = ConfigDict(frozen=True)

    signals_per_day: int = Field(description="Signals a user may create per UTC day.")
    requests_per_minute: int = Field(description="Requests a user may make per minute, on every authenticated route.")


class PlanOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str = Field(examples=["free", "pro", "enterprise"])
    name: str
    price_cents: int
    currency: str = Field(examples=["USD"])
    interval: str = Field(examples=["month"])
    quotas: PlanQuotas
    features: list[str]


class PlanList(BaseModel):
    items: list[PlanOut]


class SubscriptionOut(BaseModel):
    plan: PlanOut
    status: SubscriptionStatus
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool


class ChangePlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: str = Field(min_length=1, max_length=32, description="Code of the plan to switch to.", examples=["pro"])


class UsageOut(BaseModel):
    period_start: datetime = Field(description="Start of the current UTC day.")
    period_end: datetime = Field(description="Start of the next UTC day, when the daily quota resets.")
    signals_created: int
    signals_per_day: int
    requests_per_minute: int


class PaymentEvent(BaseModel):
    """The provider's event envelope. Unknown fields are ignored, not refused: the provider adds
    fields without notice, and a refused delivery would only be retried."""

    id: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=64)
    data: dict[str, Any]


class PaymentEventData(BaseModel):
    """`data` of the event types this API applies."""

    user_id: uuid.UUID
    plan: str | None = Field(default=None, min_length=1, max_length=32)
    period_end: AwareDatetime | None = None


class WebhookReceipt(BaseModel):
    received: Literal[True] = True
