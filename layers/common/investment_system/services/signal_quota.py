"""Creating a signal within the plan's daily quota: one transaction for the count and the signal.

Apart from services/signals.py, so that the functions that change or read a signal do not load the
billing tables, and from services/usage.py, so that reading the usage does not load signal creation.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from investment_system.schemas.signals import SignalCreate, SignalOut
from investment_system.services.signals import create_signal
from investment_system.services.usage import consume_daily_signal_quota


def create_signal_within_quota(session: Session, user_id: uuid.UUID, data: SignalCreate) -> SignalOut:
    """POST /v1/signals: `create_signal`, counted against the plan's daily quota in the same transaction
    (429 QUOTA_EXCEEDED once it is used up; a create that fails rolls its count back)."""
    consume_daily_signal_quota(session, user_id)
    return create_signal(session, user_id, data)
