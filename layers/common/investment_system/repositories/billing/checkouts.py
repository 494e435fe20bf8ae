"""Data access for checkouts: a user's pending one, its completion by the payment webhook."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, Update, select, update

from investment_system.db.base import utcnow
from investment_system.db.engine import precompile
from investment_system.models.checkouts import Checkout, CheckoutStatus
from investment_system.repositories.base import Repository, by_id


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


# Compiled before a SnapStart snapshot: the pending checkout a plan read shows, and its completion by
# the webhook, with its read after.
precompile(
    lambda _: [
        _pending_checkout(uuid.UUID(int=0), utcnow()),
        _complete_checkout(uuid.UUID(int=0), uuid.UUID(int=0), utcnow()),
        by_id(Checkout, uuid.UUID(int=0)),
    ]
)


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
