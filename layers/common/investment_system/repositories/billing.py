"""Data access for billing: plans, subscriptions, checkouts, daily usage counters, payment events,
idempotency keys.

Two statements here carry the concurrency guarantees, so they are written out per dialect:

- `insert_if_absent`: INSERT that does nothing when the key exists (PostgreSQL and SQLite
  `ON CONFLICT DO NOTHING`; MySQL `ON DUPLICATE KEY UPDATE` of the key onto itself, which, unlike
  `INSERT IGNORE`, still reports foreign-key errors and takes the row's exclusive lock at once, so
  two transactions never both hold a shared lock they then both try to upgrade).
- `UsageRepository.increment_below`: `UPDATE ... SET n = n + 1 WHERE n < limit`. A concurrent
  updater waits for the row lock and then re-evaluates the condition on the committed value
  (PostgreSQL re-checks the updated row; InnoDB updates read the latest version; SQLite has a single
  writer), so the counter never passes the limit.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Dialect, Executable, Insert, Select, Update, and_, delete, or_, select, update
from sqlalchemy.orm import Session

from investment_system.db.base import Base, utcnow
from investment_system.db.engine import precompile
from investment_system.domain import SubscriptionStatus
from investment_system.models.billing import (
    Checkout,
    CheckoutStatus,
    DailyUsage,
    IdempotencyRecord,
    IdempotencyStatus,
    PaymentEvent,
    Plan,
    Subscription,
)
from investment_system.repositories.base import Repository, by_id, execute_dml

_USAGE_KEY = ("user_id", "day")


def _insert_if_absent(dialect: str, model: type[Base], values: Mapping[str, Any], key: Sequence[str]) -> Insert:
    """Insert a row unless one with the same `key` (primary key or unique columns) exists."""
    # Each branch imports its own dialect's module: the engine has loaded it already, and the others
    # are ~60 ms of cold start.
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(model).values(**values).on_conflict_do_nothing(index_elements=list(key))
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(model).values(**values).on_conflict_do_nothing(index_elements=list(key))
    from sqlalchemy.dialects import mysql

    insert = mysql.insert(model).values(**values)
    return insert.on_duplicate_key_update({key[0]: insert.table.c[key[0]]})


def subscription_if_absent(dialect: str, values: Mapping[str, Any]) -> Insert:
    """A user's subscription row, unless the user has one (`SubscriptionRepository.insert_if_absent`)."""
    return _insert_if_absent(dialect, Subscription, values, ("user_id",))


def _catalogue() -> Select[Plan]:
    return select(Plan).order_by(Plan.price_cents, Plan.code)


def _subscription_of(user_id: uuid.UUID) -> Select[Subscription]:
    return select(Subscription).where(Subscription.user_id == user_id)


def _pending_checkout(user_id: uuid.UUID, now: datetime) -> Select[Checkout]:
    """The user's PENDING checkout that has not expired (there is at most one PENDING)."""
    return select(Checkout).where(
        Checkout.user_id == user_id, Checkout.status == CheckoutStatus.PENDING.value, Checkout.expires_at > now
    )


def _complete_checkout(checkout_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> Update:
    return (
        update(Checkout)
        .where(
            Checkout.id == checkout_id,
            Checkout.user_id == user_id,
            Checkout.status == CheckoutStatus.PENDING.value,
            Checkout.expires_at > now,
        )
        .values(status=CheckoutStatus.COMPLETED.value, completed_at=now)
    )


def _new_usage_day(dialect: str, user_id: uuid.UUID, day: date) -> Insert:
    return _insert_if_absent(dialect, DailyUsage, {"user_id": user_id, "day": day, "signals_created": 0}, _USAGE_KEY)


def _count_below(user_id: uuid.UUID, day: date, limit: int) -> Update:
    return (
        update(DailyUsage)
        .where(DailyUsage.user_id == user_id, DailyUsage.day == day, DailyUsage.signals_created < limit)
        .values(signals_created=DailyUsage.signals_created + 1)
    )


def _idempotency_record(user_id: uuid.UUID, key_hash: str) -> Select[IdempotencyRecord]:
    return select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key_hash == key_hash)


def _complete_claim(user_id: uuid.UUID, key_hash: str, claim_token: uuid.UUID, status: int, body: str) -> Update:
    return (
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.user_id == user_id,
            IdempotencyRecord.key_hash == key_hash,
            IdempotencyRecord.claim_token == claim_token,
            IdempotencyRecord.status == IdempotencyStatus.IN_PROGRESS.value,
        )
        .values(status=IdempotencyStatus.COMPLETED.value, response_status=status, response_body=body)
    )


def _primed(dialect: Dialect) -> list[Executable]:
    """The plan catalogue and a user's subscription, which every quota check, usage read and plan change
    starts from; a signal's count against the daily quota; a checkout's completion by the webhook (and
    its read after); an
    Idempotency-Key's record read (a retry) and its response stored (every first request with a key)."""
    nobody, now = uuid.UUID(int=0), utcnow()
    return [
        _catalogue(),
        _subscription_of(nobody),
        _subscription_of(nobody).with_for_update(),
        _new_usage_day(dialect.name, nobody, now.date()),
        _count_below(nobody, now.date(), 0),
        _pending_checkout(nobody, now),
        _complete_checkout(nobody, nobody, now),
        by_id(Checkout, nobody),
        _idempotency_record(nobody, ""),
        _complete_claim(nobody, "", nobody, 0, ""),
    ]


# Compiled before a SnapStart snapshot (db.engine.precompile).
precompile(_primed)


class PlanRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def all(self) -> Sequence[Plan]:
        """Every plan, cheapest first."""
        return self.session.scalars(_catalogue()).all()


class SubscriptionRepository(Repository[Subscription]):
    model = Subscription

    def for_user(self, user_id: uuid.UUID, *, for_update: bool = False) -> Subscription | None:
        statement = _subscription_of(user_id)
        if for_update:
            # Also a current read on MySQL, where a plain SELECT would keep an older snapshot.
            statement = statement.with_for_update()
        return self.session.scalars(statement).first()

    def insert_if_absent(self, values: Mapping[str, Any]) -> None:
        execute_dml(self.session, subscription_if_absent(self.session.get_bind().dialect.name, values))

    def due_batch(self, now: datetime, past_due_before: datetime, limit: int) -> Sequence[Subscription]:
        """Up to `limit` subscriptions with a change due by `now` (a period ended with a cancellation or a
        scheduled plan, or PAST_DUE since before `past_due_before`), locked; rows another worker holds
        are skipped, not waited for."""
        period_ended = and_(
            Subscription.current_period_end <= now,
            or_(Subscription.cancel_at_period_end.is_(True), Subscription.scheduled_plan_code.is_not(None)),
        )
        dunning = and_(
            Subscription.status == SubscriptionStatus.PAST_DUE.value, Subscription.past_due_since <= past_due_before
        )
        statement = (
            select(Subscription)
            .where(or_(period_ended, dunning))
            .order_by(Subscription.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return self.session.scalars(statement).all()


class CheckoutRepository(Repository[Checkout]):
    model = Checkout

    def pending_for(self, user_id: uuid.UUID, now: datetime) -> Checkout | None:
        """The user's PENDING checkout that has not expired (there is at most one PENDING)."""
        return self.session.scalars(_pending_checkout(user_id, now)).first()

    def replace_pending(self, user_id: uuid.UUID) -> int:
        return self.execute_update(
            update(Checkout)
            .where(Checkout.user_id == user_id, Checkout.status == CheckoutStatus.PENDING.value)
            .values(status=CheckoutStatus.REPLACED.value)
        )

    def complete(self, checkout_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> bool:
        """PENDING -> COMPLETED when the checkout is the user's and unexpired; True when this call did it."""
        return self.execute_update(_complete_checkout(checkout_id, user_id, now)) == 1


class UsageRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def signals_created(self, user_id: uuid.UUID, day: date) -> int:
        count = self.session.scalar(
            select(DailyUsage.signals_created).where(DailyUsage.user_id == user_id, DailyUsage.day == day)
        )
        return count or 0

    def increment_below(self, user_id: uuid.UUID, day: date, limit: int) -> bool:
        """Count one more signal for the day unless `limit` is reached; True when counted."""
        execute_dml(self.session, _new_usage_day(self.session.get_bind().dialect.name, user_id, day))
        return execute_dml(self.session, _count_below(user_id, day, limit)).rowcount == 1


class PaymentEventRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, event: PaymentEvent) -> None:
        """Insert the event; IntegrityError when its id was stored before."""
        self.session.add(event)
        self.session.flush()


class IdempotencyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, record: IdempotencyRecord) -> None:
        """Insert a claim; IntegrityError when the user's key exists."""
        self.session.add(record)
        self.session.flush()

    def get(self, user_id: uuid.UUID, key_hash: str) -> IdempotencyRecord | None:
        return self.session.scalars(_idempotency_record(user_id, key_hash)).first()

    def take_over(self, user_id: uuid.UUID, key_hash: str, *, expected: IdempotencyRecord, **claim: Any) -> bool:
        """Re-claim an expired or abandoned record, unless someone changed it since it was read."""
        statement = (
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.user_id == user_id,
                IdempotencyRecord.key_hash == key_hash,
                IdempotencyRecord.claim_token == expected.claim_token,
                IdempotencyRecord.status == expected.status,
            )
            .values(**claim)
        )
        return execute_dml(self.session, statement).rowcount == 1

    def complete(self, user_id: uuid.UUID, key_hash: str, claim_token: uuid.UUID, *, status: int, body: str) -> bool:
        """Store the response on our claim; False when the claim was lost (taken over after its lease)."""
        statement = _complete_claim(user_id, key_hash, claim_token, status, body)
        return execute_dml(self.session, statement).rowcount == 1

    def release(self, user_id: uuid.UUID, key_hash: str, claim_token: uuid.UUID) -> None:
        """Drop our claim (the effect failed), so the key can be retried."""
        execute_dml(
            self.session,
            delete(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id,
                IdempotencyRecord.key_hash == key_hash,
                IdempotencyRecord.claim_token == claim_token,
                IdempotencyRecord.status == IdempotencyStatus.IN_PROGRESS.value,
            ),
        )
