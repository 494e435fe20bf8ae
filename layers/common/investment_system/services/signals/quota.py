"""Creating a signal within the plan's daily quota: one transaction for the count and the signal.

Apart from services/signals/lifecycle.py, so that the functions that change or read a signal do not load the
billing tables, and from services/billing/usage.py, so that reading the usage does not load signal creation.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.orm import Session

from investment_system.db.base import utcnow
from investment_system.db.engine import precompile_inserts
from investment_system.domain import Direction, Timeframe
from investment_system.models.signals import Signal
from investment_system.schemas.signals import SignalCreate, SignalOut
from investment_system.services.billing.usage import consume_daily_signal_quota
from investment_system.services.signals.lifecycle import create_signal, new_signal


def create_signal_within_quota(session: Session, user_id: uuid.UUID, data: SignalCreate) -> SignalOut:
    """POST /v1/signals: `create_signal`, counted against the plan's daily quota in the same transaction
    (429 QUOTA_EXCEEDED once it is used up; a create that fails rolls its count back)."""
    consume_daily_signal_quota(session, user_id)
    return create_signal(session, user_id, data)


def _primed_signal() -> Signal:
    """A new signal's row: its INSERT's columns are the same whatever the values (the optional ones
    have no default, and the ORM sends them as NULL when unset)."""
    zero, timeframe = Decimal(0), next(iter(Timeframe))
    sample = SignalCreate.model_construct(
        symbol="", direction=Direction.BUY, confidence=zero, entry_price=zero, timeframe=timeframe
    )
    return new_signal(uuid.UUID(int=0), sample, utcnow())


# Compiled before a SnapStart snapshot (db.engine.precompile_inserts).
precompile_inserts(lambda: [_primed_signal()])
