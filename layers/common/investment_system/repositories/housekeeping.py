"""Bounded deletes of records nobody needs any more: one batch of one kind per call.

A batch selects up to `limit` primary keys of matching rows, locked with SKIP LOCKED (two overlapping
runs take different rows; SQLite has one writer anyway), then deletes those rows where they still
match. Selecting first keeps the delete bounded on every backend (MySQL takes no LIMIT in a subquery).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, select, tuple_
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from investment_system.db.base import Base
from investment_system.models.billing import Checkout, CheckoutStatus, IdempotencyRecord, PaymentEvent
from investment_system.models.refresh_tokens import RefreshToken
from investment_system.models.sessions import UserSession
from investment_system.models.stream import StreamEvent, StreamTicket
from investment_system.repositories.base import execute_dml


class HousekeepingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def delete_unpaid_checkouts(self, now: datetime, limit: int) -> int:
        """Checkouts that expired, or were replaced, without being paid."""
        return self._delete(
            Checkout, Checkout.status != CheckoutStatus.COMPLETED.value, Checkout.expires_at <= now, limit
        )

    def delete_idempotency_records(self, now: datetime, limit: int) -> int:
        """Idempotency records past their 24 hours (a later request with the key starts afresh anyway)."""
        return self._delete(IdempotencyRecord, IdempotencyRecord.expires_at <= now, None, limit)

    def delete_payment_events(self, received_before: datetime, limit: int) -> int:
        return self._delete(PaymentEvent, PaymentEvent.received_at < received_before, None, limit)

    def delete_refresh_tokens(self, now: datetime, limit: int) -> int:
        """Refresh tokens past their expiry, revoked or not. A revoked one that has not expired is kept:
        presenting it again must still be recognised as reuse (401 TOKEN_REVOKED, its session ended)."""
        return self._delete(RefreshToken, RefreshToken.expires_at <= now, None, limit)

    def delete_sessions(self, now: datetime, limit: int) -> int:
        """Sessions past their end: no token outlives its session, so none of theirs is valid any more
        (their refresh tokens, expired too, go with them)."""
        return self._delete(UserSession, UserSession.expires_at <= now, None, limit)

    def delete_stream_events(self, before: datetime, limit: int) -> int:
        """Stream events older than the replay window (STREAM_EVENT_RETENTION_HOURS)."""
        return self._delete(StreamEvent, StreamEvent.at < before, None, limit)

    def delete_stream_tickets(self, now: datetime, limit: int) -> int:
        """Stream tickets past their 60 seconds (a used one is deleted as it is used)."""
        return self._delete(StreamTicket, StreamTicket.expires_at <= now, None, limit)

    def _delete(
        self, model: type[Base], condition: ColumnElement[bool], extra: ColumnElement[bool] | None, limit: int
    ) -> int:
        conditions = [condition] if extra is None else [condition, extra]
        key = list(sa_inspect(model).primary_key)
        rows = self.session.execute(
            select(*key).where(*conditions).limit(limit).with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return 0
        chosen = key[0].in_([row[0] for row in rows]) if len(key) == 1 else tuple_(*key).in_([tuple(r) for r in rows])
        return execute_dml(self.session, delete(model).where(chosen, *conditions)).rowcount
