"""The scheduled expiry: overdue OPEN signals become EXPIRED, in bounded batches, each with history.

Each batch is its own transaction: it locks up to `batch_size` overdue rows (SKIP LOCKED, so two
overlapping runs share the work instead of queueing on each other's rows), marks them EXPIRED and
writes one "expired" audit row and one stream event per signal (actor null: the system). A run stops
after `max_batches`, or earlier when `keep_going` says its time is up; the next scheduled run picks up the rest. Reads
never waited for this job: they already report overdue signals as EXPIRED. A batch the database rolled
back to break a deadlock with an overlapping run (InnoDB's locks on the index it scans) is taken again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

from investment_system.db.base import utcnow
from investment_system.db.engine import unit_of_work
from investment_system.db.errors import TransactionConflict
from investment_system.domain import Direction, SignalStatus
from investment_system.observability import MetricName, add_metric, logger
from investment_system.repositories.signals.signals import SignalRepository
from investment_system.schemas.stream import StreamEventType
from investment_system.services.signals.lifecycle import audit_values
from investment_system.services.signals.reads import ENTITY_TYPE, signal_out
from investment_system.services.stream.events import record_event
from investment_system.services.system.audit import record_change

DEFAULT_BATCH_SIZE = 500
DEFAULT_MAX_BATCHES = 40
BATCH_ATTEMPTS = 3

_EXPIRED_METRIC = {Direction.BUY: MetricName.SIGNALS_EXPIRED_BUY, Direction.SELL: MetricName.SIGNALS_EXPIRED_SELL}


def expire_overdue_signals(
    *,
    now: datetime | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batches: int = DEFAULT_MAX_BATCHES,
    keep_going: Callable[[], bool] = lambda: True,
) -> int:
    """Mark signals whose `expires_at` is at or before `now` EXPIRED; how many were marked."""
    cutoff = now or utcnow()
    expired = 0
    for _ in range(max_batches):
        by_direction = _expire_batch(cutoff, batch_size)
        batch = sum(by_direction.values())
        expired += batch
        for direction, count in by_direction.items():
            add_metric(_EXPIRED_METRIC[direction], count)
        if batch < batch_size or not keep_going():
            break
    logger.info("Expired overdue signals", extra={"expired": expired})
    return expired


def _expire_batch(cutoff: datetime, batch_size: int) -> Counter[Direction]:
    for attempt in range(1, BATCH_ATTEMPTS):
        try:
            return _expire_batch_once(cutoff, batch_size)
        except TransactionConflict:
            logger.info("Expiry batch rolled back by a deadlock; taken again", extra={"attempt": attempt})
    return _expire_batch_once(cutoff, batch_size)


def _expire_batch_once(cutoff: datetime, batch_size: int) -> Counter[Direction]:
    by_direction: Counter[Direction] = Counter()
    with unit_of_work() as session:
        repository = SignalRepository(session)
        expired = []
        for signal in repository.overdue_batch(cutoff, batch_size):
            before = audit_values(signal)
            # Conditional: an overlapping run may have taken it since it was read (SQLite has no SKIP LOCKED).
            if not repository.expire_if_overdue(signal.id, cutoff, utcnow()):
                continue
            record_change(
                session,
                entity_type=ENTITY_TYPE,
                entity_id=signal.id,
                action="expired",
                actor_id=None,
                before=before,
                after={**before, "status": SignalStatus.EXPIRED.value},
            )
            expired.append(signal)
            by_direction[Direction(signal.direction)] += 1
        # The stream events last, by user: each takes its user's stream row, which a run then holds only
        # once its signals are written, and takes in one order.
        for signal in sorted(expired, key=lambda row: row.user_id):
            session.refresh(signal)
            record_event(session, signal.user_id, StreamEventType.SIGNAL_EXPIRED, signal_out(signal, utcnow()))
    return by_direction
