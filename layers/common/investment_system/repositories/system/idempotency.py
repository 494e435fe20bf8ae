"""Data access for idempotency records: a key's claim, its response, its release."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, Update, delete, select, update

from investment_system.models.idempotency import IdempotencyRecord, IdempotencyStatus
from investment_system.repositories.base import RowRepository, execute_dml


def _idempotency_record(user_id: uuid.UUID, key_hash: str) -> Select[IdempotencyRecord]:
    return select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key_hash == key_hash)


def claim_completion(user_id: uuid.UUID, key_hash: str, claim_token: uuid.UUID, status: int, body: str) -> Update:
    """The response stored on the claim `claim_token` while it holds the key (one row, or none once lost)."""
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


class IdempotencyRepository(RowRepository[IdempotencyRecord]):
    """`add` inserts a claim: IntegrityError when the user's key exists."""

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

    def complete(self, user_id: uuid.UUID, key_hash: str, claim_token: uuid.UUID, status: int, body: str) -> bool:
        """Store the response on our claim; False when the claim was lost (taken over after its lease)."""
        statement = claim_completion(user_id, key_hash, claim_token, status, body)
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
