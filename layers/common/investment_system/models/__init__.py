"""ORM models, one module per area.

`import investment_system.models.signals` loads the signals table alone: a function maps only the
tables it uses. Names read from this package (`from investment_system.models import Signal`) load
their module on first use, and `from investment_system.models import *` registers every table on
`Base.metadata` (the migrations' environment, the tests).
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from investment_system.models.audit import AuditEvent
    from investment_system.models.billing import Plan, Subscription
    from investment_system.models.checkouts import Checkout
    from investment_system.models.idempotency import IdempotencyRecord
    from investment_system.models.payments import PaymentEvent
    from investment_system.models.refresh_tokens import RefreshToken
    from investment_system.models.sessions import UserSession
    from investment_system.models.signals import Signal
    from investment_system.models.stream import StreamConnection, StreamEvent, StreamTicket, UserStream
    from investment_system.models.usage import DailyUsage
    from investment_system.models.users import User

_MODULES = {
    "AuditEvent": "audit",
    "Checkout": "checkouts",
    "DailyUsage": "usage",
    "IdempotencyRecord": "idempotency",
    "PaymentEvent": "payments",
    "Plan": "billing",
    "Subscription": "billing",
    "RefreshToken": "refresh_tokens",
    "UserSession": "sessions",
    "Signal": "signals",
    "StreamConnection": "stream",
    "StreamEvent": "stream",
    "StreamTicket": "stream",
    "UserStream": "stream",
    "User": "users",
}
__all__ = [
    "AuditEvent",
    "Checkout",
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


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
