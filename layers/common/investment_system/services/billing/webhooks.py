"""The payment provider's webhook: signature check, exactly-once storage, subscription transitions.

The `X-Signature` HMAC is checked on the raw bytes in constant time, within
WEBHOOK_TOLERANCE_SECONDS. The event row is inserted in the transaction of the transition it causes,
so a redelivery changes nothing; unknown types and users are stored as `ignored`, a payment that does
not match its checkout as `mismatched` (counted, logged, `applied: false`); every acknowledgement says
whether the event was applied, a redelivery as the first did (docs/billing.md, docs/security.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from investment_system.db import unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import AppError, ErrorCode, ValidationFailed, field_errors
from investment_system.models.payments import PaymentEvent as PaymentEventRow
from investment_system.models.users import User
from investment_system.observability import MetricName, add_metric, logger
from investment_system.repositories.base import row_by_id
from investment_system.repositories.billing.payments import PaymentEventRepository
from investment_system.schemas.billing import PaymentEvent, PaymentEventData, WebhookReceipt
from investment_system.services.billing.checkouts import payment_mismatch
from investment_system.services.billing.subscriptions import (
    current_subscription,
    payment_failure,
    provider_change_as_read,
    record_cancellation,
    record_payment,
    record_payment_failure,
    renewal,
)
from investment_system.settings import get_settings

SIGNATURE_HEADER = "X-Signature"
INVOICE_PAID = "invoice.paid"
INVOICE_PAYMENT_FAILED = "invoice.payment_failed"
SUBSCRIPTION_CANCELED = "subscription.canceled"
APPLIED_TYPES = frozenset({INVOICE_PAID, INVOICE_PAYMENT_FAILED, SUBSCRIPTION_CANCELED})
# A stored event's outcome
APPLIED = "applied"
IGNORED = "ignored"
MISMATCHED = "mismatched"
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


class _DuplicateEvent(Exception):
    """The event id is stored already; raised to roll the transaction back."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The provider's `v1` signature of a body sent at `timestamp`."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(header: str | None, body: bytes, *, secret: str, tolerance_seconds: int, now: float) -> None:
    """Passes when `header` signs `body` with `secret` within the tolerance; else 401 WEBHOOK_SIGNATURE_INVALID."""
    if not header:
        raise AppError(ErrorCode.WEBHOOK_SIGNATURE_INVALID, f"The {SIGNATURE_HEADER} header is missing.")
    timestamps, signatures = [], []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamps.append(value)
        elif name == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not _UNIX_SECONDS.fullmatch(timestamps[0]) or not signatures:
        raise AppError(ErrorCode.WEBHOOK_SIGNATURE_INVALID, f"The {SIGNATURE_HEADER} header is malformed.")
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > tolerance_seconds:
        raise AppError(ErrorCode.WEBHOOK_SIGNATURE_INVALID, "The signature's timestamp is too old or too new.")
    expected = sign(secret, timestamp, body).encode()
    # Every candidate is compared (no early exit), each in constant time.
    matches = [hmac.compare_digest(expected, candidate.encode()) for candidate in signatures]
    if not any(matches):
        raise AppError(ErrorCode.WEBHOOK_SIGNATURE_INVALID)


def raw_body(body: str | None, is_base64_encoded: bool) -> bytes:
    """The request body exactly as the provider sent (and signed) it."""
    if not body:
        return b""
    if is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            raise AppError(ErrorCode.MALFORMED_JSON) from None
    return body.encode()


def verify_delivery(body: bytes, signature: str | None) -> None:
    """Count a delivery and check that the provider signed this body; 401 WEBHOOK_SIGNATURE_INVALID
    (counted as rejected) otherwise. Runs before the body is parsed (http/webhooks.py)."""
    add_metric(MetricName.WEBHOOKS_RECEIVED)
    security = get_settings().security
    with _rejections_counted():
        verify_signature(
            signature,
            body,
            secret=security.payment_webhook_secret,
            tolerance_seconds=security.webhook_tolerance_seconds,
            now=time.time(),
        )


def receive_payment_event(event: PaymentEvent) -> WebhookReceipt:
    """Store once and apply an event from a verified delivery; 200 for new, duplicate and ignored events alike."""
    try:
        with _rejections_counted():
            data = _event_data(event) if event.type in APPLIED_TYPES else None
            row = _stored_event(event, data)
            outcome = _applied_as_read(event.type, data, row) or _stored_and_applied(event, data, row)
    except _DuplicateEvent:
        add_metric(MetricName.WEBHOOKS_DUPLICATE)
        logger.info("Duplicate payment event ignored", extra={"event_id": event.id, "event_type": event.type})
        with unit_of_work() as session:
            first_outcome = PaymentEventRepository(session).outcome_of(event.id)
        return WebhookReceipt(applied=first_outcome == APPLIED)
    add_metric(MetricName.WEBHOOKS_APPLIED if outcome == APPLIED else MetricName.WEBHOOKS_IGNORED)
    logger.info("Payment event received", extra={"event_id": event.id, "event_type": event.type, "outcome": outcome})
    return WebhookReceipt(applied=outcome == APPLIED)


@contextmanager
def _rejections_counted() -> Iterator[None]:
    try:
        yield
    except AppError as error:
        add_metric(MetricName.WEBHOOKS_REJECTED)
        logger.warning("Payment event rejected", extra={"code": error.code.value})
        raise


def _stored_event(event: PaymentEvent, data: PaymentEventData | None) -> PaymentEventRow:
    """The event's row as it is first stored: applied when its type is applied (an event that turns out
    not to be changes its outcome before the commit), else ignored. Every column is given (its receipt
    too): the short way inserts it in a statement of its own making, with no flush to apply defaults."""
    outcome = APPLIED if event.type in APPLIED_TYPES else IGNORED
    return PaymentEventRow(
        id=event.id,
        type=event.type,
        user_id=None if data is None else data.user_id,
        outcome=outcome,
        payload=json.loads(event.model_dump_json()),
        received_at=utcnow(),
    )


def _applied_as_read(event_type: str, data: PaymentEventData | None, row: PaymentEventRow) -> str | None:
    """A failed payment or a renewal, applied to the subscription as read with the event's row: a read and
    one statement on PostgreSQL, no transaction (`provider_change_as_read`). None when the event takes the
    locked way (`_store_and_apply`): another type, or the subscription's answer."""
    if data is None or event_type not in (INVOICE_PAYMENT_FAILED, INVOICE_PAID):
        return None
    decide = payment_failure if event_type == INVOICE_PAYMENT_FAILED else partial(renewal, data)
    try:
        applied = provider_change_as_read(data.user_id, decide, row)
    except IntegrityError:
        raise _DuplicateEvent from None
    return row.outcome if applied else None


def _stored_and_applied(event: PaymentEvent, data: PaymentEventData | None, row: PaymentEventRow) -> str:
    with unit_of_work() as session:
        return _store_and_apply(session, event, data, row)


def _store_and_apply(session: Session, event: PaymentEvent, data: PaymentEventData | None, row: PaymentEventRow) -> str:
    # The insert comes first: it is what serialises two deliveries of one event.
    try:
        PaymentEventRepository(session).add(row)
    except IntegrityError:
        raise _DuplicateEvent from None
    # Held until the event is applied: a first use of billing, which checks that the user exists, finds it
    # in the session (whose map of loaded rows keeps only the referenced ones) and reads it no second time.
    user = None if data is None else row_by_id(session, User, data.user_id)
    if data is None or user is None:
        reason = "unknown event type" if data is None else "unknown user"
        logger.warning("Payment event not applied", extra={"event_type": event.type, "reason": reason})
        row.outcome = IGNORED
        return row.outcome
    if event.type == INVOICE_PAID and data.checkout_id is not None:
        mismatch = payment_mismatch(session, data.checkout_id, data)
        if mismatch is not None:
            add_metric(MetricName.PAYMENTS_MISMATCHED)
            logger.warning(
                "Payment does not match the checkout it names; not applied",
                extra={
                    "event_id": event.id,
                    "checkout_id": str(data.checkout_id),
                    "reason": mismatch,
                    "amount_cents": data.amount_cents,
                    "currency": data.currency,
                    "plan": data.plan,
                },
            )
            row.outcome = MISMATCHED
            return row.outcome
    now = row.received_at
    subscription = current_subscription(session, data.user_id, now)
    if event.type == INVOICE_PAID:
        record_payment(session, subscription, data, now)
    elif event.type == INVOICE_PAYMENT_FAILED:
        record_payment_failure(session, subscription, now)
    else:
        record_cancellation(session, subscription, now)
    return row.outcome


def _event_data(event: PaymentEvent) -> PaymentEventData:
    try:
        return PaymentEventData.model_validate(event.data)
    except ValidationError as error:
        problems = [
            {**problem, "loc": ("data", *problem["loc"])}
            for problem in error.errors(include_input=False, include_url=False)
        ]
        raise ValidationFailed(ErrorCode.VALIDATION_ERROR, details=field_errors(problems)) from None
