"""Idempotency-Key: one effect per user and key, however many times and however concurrently it is sent.

The records live in our database, not Powertools' idempotency store, so that the effect and its
record commit together. A request claims (user, sha256(key)) in a statement of its own (others get
the stored response, 409 while it runs, or 422 for another request); the use case's step then completes the
claim with its response in the transaction of its effect, or in the very statement that makes it (the
response is known before the write: POST /v1/signals); a failure deletes the claim. A dead claimant's lease
and a record older than 24 h are taken over. docs/api.md#idempotency, docs/billing.md.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Concatenate

from sqlalchemy import Update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from investment_system.db import single_statement_write, unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import Conflict, ErrorCode, RequestError, ValidationFailed
from investment_system.models.idempotency import IdempotencyRecord, IdempotencyStatus
from investment_system.observability import MetricName, add_metric, logger
from investment_system.repositories.system.idempotency import IdempotencyRepository, claim_completion

KEY_MAX_LENGTH = 255
RECORD_TTL = timedelta(hours=24)
# Longer than any function's timeout: a claim this old belongs to an invocation that is gone.
CLAIM_LEASE = timedelta(seconds=60)
_CLAIM_ATTEMPTS = 3


@dataclass(slots=True)
class KeyClaim:
    """A request's claim on its Idempotency-Key, held while its step runs. The step completes it with the
    response of its result, together with its effect: `complete` in the effect's transaction, or
    `completion` in the effect's own statement, followed by `confirm`."""

    user_id: uuid.UUID
    key_hash: str
    token: uuid.UUID
    response: Callable[[Any], tuple[int, str]]
    confirmed: bool = False

    def completion(self, result: Any) -> Update:
        """The UPDATE storing `result`'s response on the claim: it writes its row while the claim is ours."""
        status, body = self.response(result)
        return claim_completion(self.user_id, self.key_hash, self.token, status, body)

    def complete(self, session: Session, result: Any) -> None:
        """`completion` in `session`'s transaction, confirmed."""
        status, body = self.response(result)
        self.confirm(IdempotencyRepository(session).complete(self.user_id, self.key_hash, self.token, status, body))

    def confirm(self, completed: bool) -> None:
        """409 IDEMPOTENCY_IN_PROGRESS when the completion wrote nothing: the request outlived its lease and the
        key was taken over (the lease outlasts the functions' timeouts: in AWS it does not happen). The
        transaction of the effect rolls back; an effect made in the same statement as the completion stands."""
        if not completed:
            raise Conflict(ErrorCode.IDEMPOTENCY_IN_PROGRESS)
        self.confirmed = True


# A step of a use case: given a KeyClaim, it completes it with its effect (above); given None, the request has
# no key to record.
type Step[**P, Result] = Callable[Concatenate[KeyClaim | None, P], Result]


@dataclass(frozen=True, slots=True)
class IdempotentResult:
    status: int
    body: str  # the response body, JSON
    replayed: bool


def fingerprint(operation: str, canonical_request: str) -> str:
    """What makes two requests "the same": the operation and its (canonical) body."""
    return hashlib.sha256(f"{operation}\n{canonical_request}".encode()).hexdigest()


def run_idempotently[**P, Result](
    user_id: uuid.UUID,
    key: str | None,
    request_hash: str,
    response: Callable[[Result], tuple[int, str]],
    step: Step[P, Result],
    *args: P.args,
    **kwargs: P.kwargs,
) -> IdempotentResult:
    """Run `step(claim, *args, **kwargs)` once for this user's `key`, and answer `response(result)` (status,
    JSON body): later calls with the key get that answer. Without a key it simply runs, as
    `step(None, ...)`."""
    if key is None:
        status, body = response(step(None, *args, **kwargs))
        return IdempotentResult(status, body, replayed=False)
    if not 1 <= len(key) <= KEY_MAX_LENGTH:
        raise RequestError(ErrorCode.INVALID_IDEMPOTENCY_KEY)
    key_hash = hashlib.sha256(key.encode()).hexdigest()
    claimed = _claim(user_id, key_hash, request_hash)
    if isinstance(claimed, IdempotentResult):
        return claimed
    claim = KeyClaim(user_id, key_hash, claimed, response)
    try:
        result = step(claim, *args, **kwargs)
    except BaseException:
        _release(user_id, key_hash, claimed)
        raise
    # A step that left its claim open would leave the key to be taken over, and its effect made again.
    assert claim.confirmed, f"{step.__qualname__} did not complete its Idempotency-Key's claim"
    status, body = response(result)
    return IdempotentResult(status, body, replayed=False)


def _claim_values(request_hash: str, claim_token: uuid.UUID, now: datetime) -> dict[str, Any]:
    """A claim of a key, new or taken over: in progress, leased for CLAIM_LEASE, no response yet."""
    return {
        "request_hash": request_hash,
        "status": IdempotencyStatus.IN_PROGRESS.value,
        "claim_token": claim_token,
        "locked_until": now + CLAIM_LEASE,
        "expires_at": now + RECORD_TTL,
        "response_status": None,
        "response_body": None,
        "created_at": now,
    }


def _claim(user_id: uuid.UUID, key_hash: str, request_hash: str) -> uuid.UUID | IdempotentResult:
    for _ in range(_CLAIM_ATTEMPTS):
        now = utcnow()
        token = uuid.uuid4()
        fresh = _claim_values(request_hash, token, now)
        try:
            with single_statement_write() as session:
                IdempotencyRepository(session).add(IdempotencyRecord(user_id=user_id, key_hash=key_hash, **fresh))
            return token
        except IntegrityError:
            pass  # the key is known: decide from its record
        with unit_of_work() as session:
            repository = IdempotencyRepository(session)
            record = repository.get(user_id, key_hash)
            if record is None:
                continue  # released since our insert failed
            abandoned = record.status == IdempotencyStatus.IN_PROGRESS and record.locked_until <= now
            if record.expires_at <= now or abandoned:
                if repository.take_over(user_id, key_hash, expected=record, **fresh):
                    return token
                continue
            if record.request_hash != request_hash:
                raise ValidationFailed(ErrorCode.IDEMPOTENCY_KEY_REUSED)
            if record.status == IdempotencyStatus.COMPLETED and record.response_status and record.response_body:
                add_metric(MetricName.IDEMPOTENT_REPLAYS)
                return IdempotentResult(record.response_status, record.response_body, replayed=True)
            raise Conflict(ErrorCode.IDEMPOTENCY_IN_PROGRESS)
    raise Conflict(ErrorCode.IDEMPOTENCY_IN_PROGRESS)


def _release(user_id: uuid.UUID, key_hash: str, claim_token: uuid.UUID) -> None:
    try:
        with unit_of_work() as session:
            IdempotencyRepository(session).release(user_id, key_hash, claim_token)
    except Exception as error:  # the original failure matters more; the lease frees the key anyway
        logger.warning("Could not release an idempotency claim", extra={"error_type": type(error).__name__})
