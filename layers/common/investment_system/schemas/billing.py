"""Request and response models of the billing API (but the plans': schemas/plans.py) and of the payment
provider's webhook."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, WithJsonSchema

from investment_system.domain import PlanCode, SubscriptionStatus
from investment_system.schemas import ALWAYS_SENT, ApiModel, UtcDatetime
from investment_system.schemas.plans import Plan


class ScheduledChange(ApiModel):
    plan: PlanCode = Field(description="The cheaper plan you chose.")
    effective_at: datetime = Field(description="When it replaces your plan: the end of the current period.")


class Checkout(ApiModel):
    id: uuid.UUID = Field(description="Pay it with the payment provider: its invoice.paid names this id.")
    plan: PlanCode
    amount_cents: int
    currency: str = Field(examples=["USD"])
    status: Literal["PENDING"]
    expires_at: datetime = Field(description="24 hours after it was started; it cannot be completed afterwards.")


class Subscription(ApiModel):
    plan: Plan = Field(description="The plan in force: its quotas apply now.")
    status: SubscriptionStatus
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool = Field(description="At current_period_end the subscription ends, on free.")
    scheduled_change: ScheduledChange | None = Field(description="A cheaper plan taking over at the period's end.")
    pending_checkout: Checkout | None = Field(
        description="An upgrade waiting for its payment; the plan changes only once the provider confirms it."
    )


class CheckoutStarted(ApiModel):
    checkout: Checkout
    subscription: Subscription = Field(description="Unchanged until the checkout is paid.")


class SubscriptionChange(ApiModel):
    model_config = ConfigDict(extra="forbid")

    plan: PlanCode | Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(
        description="Code of the plan to switch to: a dearer one starts a checkout, a cheaper one is scheduled "
        "for the period's end; a code the catalogue does not have is 404 PLAN_NOT_FOUND.",
        examples=["pro"],
    )


class Usage(ApiModel):
    period_start: datetime = Field(description="Start of the current UTC day.")
    period_end: datetime = Field(description="Start of the next UTC day, when the daily quota resets.")
    signals_created: int
    signals_per_day: int
    requests_per_minute: int


# How far ahead a paid period may end: a year's plan, and a little more.
PERIOD_END_MAX_DAYS = 400
# The largest amount a checkout holds (its column is a 32-bit integer).
MAX_AMOUNT_CENTS = 2**31 - 1


def _period_end_in_bounds(value: datetime) -> datetime:
    """A paid period's end (UTC, from UtcDatetime, which refuses the range's edges): in the future and at
    most PERIOD_END_MAX_DAYS away."""
    now = datetime.now(UTC)
    if not now < value <= now + timedelta(days=PERIOD_END_MAX_DAYS):
        raise ValueError(f"must be in the future and at most {PERIOD_END_MAX_DAYS} days away")
    return value


class PaymentEventData(ApiModel):
    """`data` of the event types this API applies."""

    user_id: uuid.UUID
    plan: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="invoice.paid: the plan paid for; with checkout_id, the checkout's plan or absent.",
    )
    checkout_id: uuid.UUID | None = Field(default=None, description="invoice.paid: the checkout it completes.")
    amount_cents: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=MAX_AMOUNT_CENTS,
        description="invoice.paid: the amount paid; with checkout_id, required and equal to the checkout's.",
        examples=[2900],
    )
    currency: str | None = Field(
        default=None,
        pattern="^[A-Za-z]{3}$",
        description="invoice.paid: the ISO 4217 code of the amount paid, in either case; with checkout_id, "
        "required and the checkout's.",
        examples=["USD"],
    )
    period_end: Annotated[UtcDatetime, AfterValidator(_period_end_in_bounds)] | None = Field(
        default=None,
        description=f"invoice.paid: the end of the period paid for, in the future and at most "
        f"{PERIOD_END_MAX_DAYS} days away.",
    )


class PaymentEvent(ApiModel):
    """The provider's event envelope. Unknown fields are ignored, not refused: the provider adds
    fields without notice, and a refused delivery would only be retried. No text in it, field names
    included, may hold a NUL character: the event is stored as sent."""

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


class WebhookReceipt(ApiModel):
    """The acknowledgement of every event the API keeps: the provider must not deliver it again."""

    model_config = ALWAYS_SENT

    received: Literal[True] = True
    applied: bool = Field(
        description="Whether the event took effect. False for an invoice.paid that does not match the checkout "
        "it names, an event about an unknown user, and an event of another type: each is kept, and changes "
        "nothing. A redelivery answers as the first delivery of its id did."
    )
