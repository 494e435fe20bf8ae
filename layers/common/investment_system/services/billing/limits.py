"""A plan change's rate limit: once the change commits, the user's requests per minute are the new plan's
from their next request on, whatever access token they hold (services/system/rate_limit.py keeps it in the
limiter's store, which the rate-limit guard reads anyway). docs/billing.md#rate-limits.
"""

from __future__ import annotations

import uuid

from sqlalchemy import event
from sqlalchemy.orm import Session

from investment_system.services.system.rate_limit import apply_user_limit

_PENDING_LIMITS = "pending_rate_limits"


def limit_follows_plan(session: Session, user_id: uuid.UUID, requests_per_minute: int) -> None:
    """A step of a plan change: store the user's new limit once the transaction commits (never after a rollback)."""
    pending: dict[uuid.UUID, int] | None = session.info.get(_PENDING_LIMITS)
    if pending is None:
        pending = session.info[_PENDING_LIMITS] = {}
        event.listen(session, "after_commit", _store_limits)
    pending[user_id] = requests_per_minute  # the last change of the transaction is the one in force


def _store_limits(session: Session) -> None:
    pending: dict[uuid.UUID, int] = session.info.pop(_PENDING_LIMITS, {})
    for user_id, requests_per_minute in pending.items():
        apply_user_limit(user_id, requests_per_minute)
