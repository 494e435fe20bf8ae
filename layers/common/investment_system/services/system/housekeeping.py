"""The housekeeping job: deletes, in bounded batches, records that can no longer be of use.

Expired checkouts, idempotency records, payment events, refresh tokens, sessions, stream events and
tickets (what "expired" means for each: docs/billing.md). Each batch is one transaction of at most
`batch_size` rows of one kind; a kind is done when a batch comes back short, after `max_batches`, or
when `keep_going` says time is up, and the next run carries on. Rows removed are counted (RowsPurged).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from investment_system.db import unit_of_work
from investment_system.db.base import utcnow
from investment_system.observability import MetricName, add_metric, logger
from investment_system.repositories.system.housekeeping import HousekeepingRepository
from investment_system.settings import get_settings

DEFAULT_BATCH_SIZE = 500
DEFAULT_MAX_BATCHES = 40


def purge_expired_records(
    *,
    now: datetime | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batches: int = DEFAULT_MAX_BATCHES,
    keep_going: Callable[[], bool] = lambda: True,
) -> dict[str, int]:
    """Delete what the table of the module docstring says; the rows removed, by kind."""
    cutoff = now or utcnow()
    retention = timedelta(days=get_settings().billing.payment_event_retention_days)
    stream_retention = timedelta(hours=get_settings().stream.event_retention_hours)
    kinds: dict[str, Callable[[HousekeepingRepository], int]] = {
        "checkouts": lambda repository: repository.delete_unpaid_checkouts(cutoff, batch_size),
        "idempotency_records": lambda repository: repository.delete_idempotency_records(cutoff, batch_size),
        "payment_events": lambda repository: repository.delete_payment_events(cutoff - retention, batch_size),
        "refresh_tokens": lambda repository: repository.delete_refresh_tokens(cutoff, batch_size),
        "user_sessions": lambda repository: repository.delete_sessions(cutoff, batch_size),
        "stream_events": lambda repository: repository.delete_stream_events(cutoff - stream_retention, batch_size),
        "stream_tickets": lambda repository: repository.delete_stream_tickets(cutoff, batch_size),
    }
    removed = dict.fromkeys(kinds, 0)
    for kind, delete_batch in kinds.items():
        if not keep_going():
            break
        for _ in range(max_batches):
            with unit_of_work() as session:
                deleted = delete_batch(HousekeepingRepository(session))
            removed[kind] += deleted
            add_metric(MetricName.ROWS_PURGED, deleted)
            if kind == "checkouts":
                add_metric(MetricName.CHECKOUTS_EXPIRED, deleted)
            if deleted < batch_size or not keep_going():
                break
        logger.info("Purged expired records", extra={"table": kind, "rows": removed[kind]})
    return removed
