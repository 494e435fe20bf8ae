"""Creating a signal within the plan's daily quota: the count and the signal, written together.

Apart from services/signals/lifecycle.py, so that the functions that change or read a signal do not load the
billing tables, and from services/billing/usage.py, so that reading the usage does not load signal creation.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from investment_system.db import read_only, single_statement_write
from investment_system.db.base import utcnow
from investment_system.schemas.signals import Signal, SignalCreate
from investment_system.services.billing.usage import daily_signal_quota
from investment_system.services.signals.lifecycle import create_signal

if TYPE_CHECKING:
    from investment_system.services.system.idempotency import KeyClaim


def create_signal_within_quota(claim: KeyClaim | None, user_id: uuid.UUID, data: SignalCreate) -> Signal:
    """POST /v1/signals: `create_signal`, counted against the plan's daily quota (429 QUOTA_EXCEEDED once it
    is used up; a signal not written is not counted), completing an Idempotency-Key's `claim` if there is
    one: the plan read, then one statement on PostgreSQL."""
    with read_only() as reading:
        quota = daily_signal_quota(reading, user_id, utcnow())
    with single_statement_write() as writing:
        return create_signal(writing, user_id, data, quota, claim)
