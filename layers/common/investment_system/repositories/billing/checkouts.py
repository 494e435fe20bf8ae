"""Data access for checkouts: a user's pending one, its completion by the payment webhook."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Select, Update, and_, exists, select, update

from investment_system.db.engine import compiles_only, dialect_name
from investment_system.models.billing import Subscription
from investment_system.models.checkouts import Checkout, CheckoutStatus
from investment_system.repositories.base import Repository, execute_dml, insert_per_row_of, insertion, row_values


def is_pending_checkout(user_id: uuid.UUID, now: datetime) -> ColumnElement[bool]:
    """A checkout of the user's that is PENDING and has not expired (there is at most one PENDING)."""
    return and_(Checkout.user_id == user_id, Checkout.status == CheckoutStatus.PENDING.value, Checkout.expires_at > now)


def _pending_checkout(user_id: uuid.UUID, now: datetime) -> Select[Checkout]:
    return select(Checkout).where(is_pending_checkout(user_id, now))


def _subscription_and_pending_checkout(user_id: uuid.UUID, now: datetime) -> Select[Subscription, Checkout | None]:
    return (
        select(Subscription)
        .where(Subscription.user_id == user_id)
        .add_columns(Checkout)
        .outerjoin(Checkout, is_pending_checkout(user_id, now))
    )


def _replace_pending(user_id: uuid.UUID) -> Update:
    return (
        update(Checkout)
        .where(Checkout.user_id == user_id, Checkout.status == CheckoutStatus.PENDING.value)
        .values(status=CheckoutStatus.REPLACED.value)
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


class CheckoutRepository(Repository[Checkout]):
    model = Checkout

    def subscription_and_pending(
        self, user_id: uuid.UUID, now: datetime
    ) -> tuple[Subscription, Checkout | None] | None:
        """The user's subscription (None: they have none yet) and their pending checkout, in one query
        (what GET /v1/billing/subscription reads; here, so that what reads only the plan in force does not
        map checkouts)."""
        row = self.session.execute(_subscription_and_pending_checkout(user_id, now)).first()
        return None if row is None else (row[0], row[1])

    def pending_for(self, user_id: uuid.UUID, now: datetime) -> Checkout | None:
        """The user's PENDING checkout that has not expired (there is at most one PENDING)."""
        return self.session.scalars(_pending_checkout(user_id, now)).first()

    def start(self, checkout: Checkout, subscription: Subscription, now: datetime) -> bool:
        """Add `checkout` in place of its user's pending one, while the user's subscription is at the version
        read; whether it was. The start moves that version on (a pending checkout shows in the subscription),
        so of two starts that read the same version one is added, the other not; there is no other guard
        against two pending checkouts. On PostgreSQL one statement, all of it conditional on the version's
        move; elsewhere, and in a replay on SQLite, one by one."""
        moved = (
            update(Subscription)
            .where(Subscription.id == subscription.id, Subscription.version == subscription.version)
            .values(version=Subscription.version + 1, updated_at=now)
        )
        replace = _replace_pending(checkout.user_id)
        if dialect_name(self.session) == "postgresql":
            gate = moved.returning(Subscription.id).cte("moved")
            replaced = replace.where(exists(gate.select())).cte("replaced")
            statement = insert_per_row_of(Checkout, row_values(checkout), gate).add_cte(replaced)
            if not compiles_only(self.session, statement):
                return execute_dml(self.session, statement).rowcount == 1
        if execute_dml(self.session, moved).rowcount != 1:
            return False
        execute_dml(self.session, replace)
        execute_dml(self.session, insertion(checkout))
        return True

    def complete(self, checkout_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> bool:
        """PENDING -> COMPLETED when the checkout is the user's and unexpired; True when this call did it."""
        return self.execute_update(_complete_checkout(checkout_id, user_id, now)) == 1
