"""Data access for the plan in force: the plan catalogue and users' subscriptions. (Checkouts, daily
usage, payment events and idempotency records have modules of their own.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Select, and_, or_, select

from investment_system.db.engine import dialect_name
from investment_system.domain import SubscriptionStatus
from investment_system.models.billing import Plan, Subscription
from investment_system.repositories.base import Repository, SessionBoundRepository, execute_dml, insert_if_absent


def subscription_if_absent(values: Mapping[str, Any]) -> Insert:
    """A user's subscription row, unless the user has one (`SubscriptionRepository.insert_or_lock`)."""
    return insert_if_absent(Subscription, values, ("user_id",))


def _catalogue() -> Select[Plan]:
    return select(Plan).order_by(Plan.price_cents, Plan.code)


def _subscription_of(user_id: uuid.UUID) -> Select[Subscription]:
    return select(Subscription).where(Subscription.user_id == user_id)


class PlanRepository(SessionBoundRepository):
    def all(self) -> Sequence[Plan]:
        """Every plan, cheapest first."""
        return self.session.scalars(_catalogue()).all()

    def add_all(self, plans: Iterable[Plan]) -> None:
        self.session.add_all(plans)
        self.session.flush()


class SubscriptionRepository(Repository[Subscription]):
    model = Subscription

    def for_user(self, user_id: uuid.UUID, *, for_update: bool = False) -> Subscription | None:
        statement = _subscription_of(user_id)
        if for_update:
            # Also a current read on MySQL, where a plain SELECT would keep an older snapshot.
            statement = statement.with_for_update()
        return self.session.scalars(statement).first()

    def insert_or_lock(self, values: Mapping[str, Any]) -> tuple[Subscription, bool]:
        """The user's subscription, locked: the row `values` inserted (True), or the one they had (False).
        Where the INSERT returns its row (PostgreSQL, SQLite), the row it inserted is not read back."""
        statement = subscription_if_absent(values)
        if dialect_name(self.session) in ("postgresql", "sqlite"):
            inserted = self.session.scalars(statement.returning(Subscription)).first()
            if inserted is not None:
                return inserted, True
        else:
            execute_dml(self.session, statement)
        subscription = self.for_user(values["user_id"], for_update=True)
        assert subscription is not None  # inserted, by us or by a concurrent first use
        return subscription, subscription.id == values["id"]

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
