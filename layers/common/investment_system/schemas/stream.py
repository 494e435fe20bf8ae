"""The real-time stream's models: the connection ticket, and the frames the server sends."""

from enum import StrEnum

from pydantic import Field

from investment_system.schemas import ALWAYS_SENT, ApiModel


class StreamEventType(StrEnum):
    SIGNAL_CREATED = "signal.created"
    SIGNAL_UPDATED = "signal.updated"
    SIGNAL_CLOSED = "signal.closed"
    SIGNAL_EXPIRED = "signal.expired"
    SIGNAL_DELETED = "signal.deleted"
    SUBSCRIPTION_CHANGED = "subscription.changed"


class StreamTicket(ApiModel):
    model_config = ALWAYS_SENT

    ticket: str = Field(
        description="Connect with wss://…/v1/stream?ticket=<ticket>. It works once, for the caller only.",
        examples=["q0Yk3uVhJ2x9vJ6mT8m0mS7pQeC1bq2vQm8a3uJ5Z0k"],
    )
    expires_in: int = Field(default=60, description="Seconds until the ticket can no longer be used.")
