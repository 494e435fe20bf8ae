"""Signals under concurrency, on SQLite, PostgreSQL and MariaDB: parallel creates, overlapping expiry runs,
a close racing the expiry job. Each worker has its own unit of work, as separate Lambda containers would."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from invest_dev.samples import unlimited_quota
from investment_system.db import engine as db_engine
from investment_system.db.base import utcnow
from investment_system.db.engine import unit_of_work
from investment_system.errors import AppError, ErrorCode
from investment_system.models import AuditEvent, Signal
from investment_system.schemas.signals import SignalClose, SignalCreate, SignalListQuery
from investment_system.services.signals.expiry import expire_overdue_signals
from investment_system.services.signals.lifecycle import close_signal, create_signal
from investment_system.services.signals.reads import list_signals
from tests.support.signals import make_investor, set_row

WORKERS = 8


@pytest.fixture
def pooled(db):
    """The test database behind an engine with a connection per worker."""
    engine = db.make_engine(pool_size=WORKERS)
    db_engine.use_engine(engine)
    yield db
    db_engine.use_engine(db.engine)
    engine.dispose()


def _body(**overrides):
    return SignalCreate.model_validate(
        {
            "symbol": "AAPL",
            "direction": "BUY",
            "confidence": "0.5",
            "entry_price": "100",
            "timeframe": "1h",
            **overrides,
        }
    )


def _count(model, *conditions) -> int:
    with unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*conditions)))


def test_concurrent_creates_lose_nothing(pooled):
    investor = make_investor()
    per_worker = 6

    def create_many(worker: int) -> list[str]:
        ids = []
        for n in range(per_worker):
            with unit_of_work() as session:
                ids.append(
                    str(
                        create_signal(
                            session,
                            investor.user_id,
                            _body(notes=f"{worker}-{n}"),
                            unlimited_quota(session, investor.user_id),
                        ).id
                    )
                )
        return ids

    # When eight workers create six signals each, at the same time
    with ThreadPoolExecutor(WORKERS) as pool:
        created = [signal_id for ids in pool.map(create_many, range(WORKERS)) for signal_id in ids]
    # Then all 48 exist, once each, each with its "created" history row
    expected = WORKERS * per_worker
    assert len(set(created)) == expected
    assert _count(Signal, Signal.user_id == investor.user_id) == expected
    assert _count(AuditEvent, AuditEvent.entity_type == "signal", AuditEvent.action == "created") == expected
    # And paging through them shows each exactly once
    seen, cursor = [], None
    while True:
        page = list_signals(investor.user_id, SignalListQuery(limit=7, cursor=cursor))
        seen.extend(str(s.id) for s in page.items)
        if (cursor := page.next_cursor) is None:
            break
    assert sorted(seen) == sorted(created)


def test_overlapping_expiry_runs_expire_each_signal_once(pooled):
    investor = make_investor()
    later = (utcnow() + timedelta(hours=1)).isoformat()
    with unit_of_work() as session:
        ids = [
            create_signal(
                session, investor.user_id, _body(expires_at=later), unlimited_quota(session, investor.user_id)
            ).id
            for _ in range(60)
        ]
    with unit_of_work() as session:
        for signal in session.scalars(select(Signal).where(Signal.id.in_(ids))):
            signal.expires_at = utcnow() - timedelta(minutes=1)
    # When four expiry runs with small batches overlap
    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(lambda _: expire_overdue_signals(batch_size=5), range(4)))
    # Then together they expired every signal exactly once, with one history row each
    assert sum(counts) == 60
    assert _count(Signal, Signal.status == "EXPIRED") == 60
    assert _count(AuditEvent, AuditEvent.action == "expired") == 60


def test_a_close_racing_the_expiry_job_leaves_one_consistent_outcome(pooled):
    investor = make_investor()
    later = (utcnow() + timedelta(hours=1)).isoformat()
    with unit_of_work() as session:
        signal_id = str(
            create_signal(
                session, investor.user_id, _body(expires_at=later), unlimited_quota(session, investor.user_id)
            ).id
        )
    set_row(signal_id, expires_at=utcnow() - timedelta(milliseconds=1))

    def close() -> str:
        try:
            return close_signal(investor.user_id, signal_id, SignalClose(exit_price=Decimal(101))).status
        except AppError as error:
            return error.code

    # When the owner tries to close an overdue signal while the job expires it
    with ThreadPoolExecutor(2) as pool:
        closing = pool.submit(close)
        expiring = pool.submit(expire_overdue_signals)
        outcome, expired = closing.result(), expiring.result()
    # Then the close is refused (the signal was due), and the job expired it once
    assert (outcome, expired) == (ErrorCode.SIGNAL_NOT_OPEN, 1)
    assert _count(AuditEvent, AuditEvent.action.in_(["expired", "closed"])) == 1


def test_concurrent_closes_of_one_signal_close_it_once(pooled):
    investor = make_investor()
    with unit_of_work() as session:
        signal_id = str(
            create_signal(session, investor.user_id, _body(), unlimited_quota(session, investor.user_id)).id
        )

    def close(exit_price: int) -> str:
        try:
            close_signal(investor.user_id, signal_id, SignalClose(exit_price=Decimal(exit_price)))
            return "closed"
        except AppError as error:
            return error.code

    # When six requests try to close the same signal at different prices at once
    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(close, range(101, 107)))
    # Then one wins, the others get 409 SIGNAL_NOT_OPEN, and one "closed" history row agrees with the row
    assert sorted(outcomes) == sorted(["closed"] + [ErrorCode.SIGNAL_NOT_OPEN] * 5)
    assert _count(AuditEvent, AuditEvent.action == "closed") == 1
    with unit_of_work() as session:
        signal = session.get(Signal, uuid.UUID(signal_id))
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "closed")).one()
    assert event.changes["exit_price"]["to"] == f"{signal.exit_price.normalize():f}"
