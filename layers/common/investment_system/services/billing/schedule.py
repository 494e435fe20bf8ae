"""The scheduled job of subscriptions: changes due at a period's end, and dunning, for every user.

Reads never wait for it (quota checks count a due change as made, a user's billing requests apply it
first); it brings the rows of users who send none up to date, so that the table, the audit trail and
the metrics say what is in force. Each batch is one transaction over up to `batch_size` due rows
(SKIP LOCKED, so overlapping runs share the work) applying every transition due by now at its own
moment: a run is idempotent and a rerun picks up where one stopped (`max_batches`, `keep_going`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from investment_system.db import unit_of_work
from investment_system.db.base import utcnow
from investment_system.observability import logger
from investment_system.repositories.billing.subscriptions import SubscriptionRepository
from investment_system.services.billing.plan_terms import grace_period
from investment_system.services.billing.subscriptions import catch_up

DEFAULT_BATCH_SIZE = 200
DEFAULT_MAX_BATCHES = 50


def apply_due_changes(
    *,
    now: datetime | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batches: int = DEFAULT_MAX_BATCHES,
    keep_going: Callable[[], bool] = lambda: True,
) -> int:
    """Bring every subscription with a change due by `now` up to date; how many were."""
    cutoff = now or utcnow()
    updated = 0
    for _ in range(max_batches):
        with unit_of_work() as session:
            batch = SubscriptionRepository(session).due_batch(cutoff, cutoff - grace_period(), batch_size)
            for subscription in batch:
                catch_up(session, subscription, cutoff)
        updated += len(batch)
        if len(batch) < batch_size or not keep_going():
            break
    logger.info("Applied due subscription changes", extra={"subscriptions": updated})
    return updated
