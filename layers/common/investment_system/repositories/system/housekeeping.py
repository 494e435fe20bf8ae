"""Bounded deletes of records nobody needs any more: one batch of one kind per call.

A batch selects up to `limit` primary keys of matching rows, locked with SKIP LOCKED (two overlapping
runs take different rows; SQLite has one writer anyway), then deletes those rows where they still
match. Selecting first keeps the delete bounded on every backend (MySQL takes no LIMIT in a subquery).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Delete, Select, delete, select, tuple_
from sqlalchemy import inspect as sa_inspect

from investment_system.db.base import Base
from investment_system.models.checkouts import Checkout, CheckoutStatus
from investment_system.models.idempotency import IdempotencyRecord
from investment_system.models.payments import PaymentEvent
from investment_system.models.refresh_tokens import RefreshToken
from investment_system.models.sessions import UserSession
from investment_system.models.stream import StreamEvent, StreamTicket
from investment_system.repositories.base import SessionBoundRepository, execute_dml

# What each kind of batch deletes: its model, and the conditions of its rows at a time.
_Batch = tuple[type[Base], tuple[ColumnElement[bool], ...]]


def _unpaid_checkouts(now: datetime) -> _Batch:
    return Checkout, (Checkout.status != CheckoutStatus.COMPLETED.value, Checkout.expires_at <= now)


def _idempotency_records(now: datetime) -> _Batch:
    return IdempotencyRecord, (IdempotencyRecord.expires_at <= now,)


def _payment_events(received_before: datetime) -> _Batch:
    return PaymentEvent, (PaymentEvent.received_at < received_before,)


def _refresh_tokens(now: datetime) -> _Batch:
    return RefreshToken, (RefreshToken.expires_at <= now,)


def _sessions(now: datetime) -> _Batch:
    return UserSession, (UserSession.expires_at <= now,)


def _stream_events(before: datetime) -> _Batch:
    return StreamEvent, (StreamEvent.at < before,)


def _stream_tickets(now: datetime) -> _Batch:
    return StreamTicket, (StreamTicket.expires_at <= now,)


def _keys_of(batch: _Batch, limit: int) -> Select[Any]:
    """Up to `limit` primary keys of the batch's rows, locked; rows another run holds are skipped."""
    model, conditions = batch
    return select(*sa_inspect(model).primary_key).where(*conditions).limit(limit).with_for_update(skip_locked=True)


def _delete_of(batch: _Batch, keys: Sequence[Sequence[Any]]) -> Delete:
    """Delete the rows of these primary keys that still match the batch's conditions."""
    model, conditions = batch
    key = list(sa_inspect(model).primary_key)
    chosen = key[0].in_([row[0] for row in keys]) if len(key) == 1 else tuple_(*key).in_([tuple(r) for r in keys])
    return delete(model).where(chosen, *conditions)


class HousekeepingRepository(SessionBoundRepository):
    def delete_unpaid_checkouts(self, now: datetime, limit: int) -> int:
        """Checkouts that expired, or were replaced, without being paid."""
        return self._delete(_unpaid_checkouts(now), limit)

    def delete_idempotency_records(self, now: datetime, limit: int) -> int:
        """Idempotency records past their 24 hours (a later request with the key starts afresh anyway)."""
        return self._delete(_idempotency_records(now), limit)

    def delete_payment_events(self, received_before: datetime, limit: int) -> int:
        return self._delete(_payment_events(received_before), limit)

    def delete_refresh_tokens(self, now: datetime, limit: int) -> int:
        """Refresh tokens past their expiry, revoked or not. A revoked one that has not expired is kept:
        presenting it again must still be recognised as reuse (401 TOKEN_REVOKED, its session ended)."""
        return self._delete(_refresh_tokens(now), limit)

    def delete_sessions(self, now: datetime, limit: int) -> int:
        """Sessions past their end: no token outlives its session, so none of theirs is valid any more
        (their refresh tokens, expired too, go with them)."""
        return self._delete(_sessions(now), limit)

    def delete_stream_events(self, before: datetime, limit: int) -> int:
        """Stream events older than the replay window (STREAM_EVENT_RETENTION_HOURS)."""
        return self._delete(_stream_events(before), limit)

    def delete_stream_tickets(self, now: datetime, limit: int) -> int:
        """Stream tickets past their 60 seconds (a used one is deleted as it is used)."""
        return self._delete(_stream_tickets(now), limit)

    def _delete(self, batch: _Batch, limit: int) -> int:
        keys = self.session.execute(_keys_of(batch, limit)).all()
        if not keys:
            return 0
        return execute_dml(self.session, _delete_of(batch, keys)).rowcount
