"""Request and response models of the billing API and of the payment provider's webhook."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from investment_system.models.billing import PlanCode, SubscriptionStatus
from investment_system.schemas import ALWAYS_SENT


class PlanQuotas(BaseModel):
    model_config = ConfigDict(frozen=True)

    signals_per_day: int = Field(description="Signals a user may create per UTC day.")
    requests_per_minute: int = Field(description="Requests a user may make per minute, on every authenticated route.")


class PlanOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: PlanCode
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

    plan: PlanCode | Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(
        description="Code of the plan to switch to; a code the catalogue does not have is 404 PLAN_NOT_FOUND.",
        examples=["pro"],
    )


class UsageOut(BaseModel):
    period_start: datetime = Field(description="Start of the current UTC day.")
    period_end: datetime = Field(description="Start of the next UTC day, when the daily quota resets.")
    signals_created: int
    signals_per_day: int
    requests_per_minute: int


class PaymentEventData(BaseModel):
    """`data` of the event types this API applies."""

    user_id: uuid.UUID
    plan: str | None = Field(default=None, min_length=1, max_length=32, description="invoice.paid: the plan paid for.")
    period_end: AwareDatetime | None = Field(default=None, description="invoice.paid: the end of the period paid for.")


class PaymentEvent(BaseModel):
    """The provider's event envelope. Unknown fields are ignored, not refused: the provider adds
    fields without notice, and a refused delivery would only be retried."""

    id: str = Field(min_length=1, max_length=255, description="The provider's event id: an id is applied once.")
    type: str = Field(
        min_length=1,
        max_length=64,
        description="invoice.paid, invoice.payment_failed or subscription.canceled are applied; "
        "an event of another type is stored and acknowledged, and changes nothing.",
        examples=["invoice.paid"],
    )
    # Checked against PaymentEventData only for the types applied: other types' data is stored as sent.
    # Documented with its fields, titled so that generated clients name it PaymentEventData.
    data: Annotated[dict[str, Any], WithJsonSchema({**PaymentEventData.model_json_schema(), "title": "Data"})]


class WebhookReceipt(BaseModel):
    model_config = ALWAYS_SENT

    received: Literal[True] = True
