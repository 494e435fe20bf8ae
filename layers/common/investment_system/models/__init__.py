"""ORM models. Importing this package registers every table on `Base.metadata` (migrations, tests)."""

from investment_system.models.audit import AuditEvent
from investment_system.models.billing import DailyUsage, IdempotencyRecord, PaymentEvent, Plan, Subscription
from investment_system.models.refresh_tokens import RefreshToken
from investment_system.models.sessions import UserSession
from investment_system.models.signals import Signal
from investment_system.models.stream import StreamConnection, StreamEvent, StreamTicket, UserStream
from investment_system.models.users import User

__all__ = [
    "AuditEvent",
    "DailyUsage",
    "IdempotencyRecord",
    "PaymentEvent",
    "Plan",
    "RefreshToken",
    "Signal",
    "StreamConnection",
    "StreamEvent",
    "StreamTicket",
    "Subscription",
    "User",
    "UserSession",
    "UserStream",
]
