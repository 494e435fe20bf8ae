"""The stream's outbox: a change writes its event in the change's own transaction; an ending session
ends its streams in its own.

`record_event`, a step of the use case making the change, numbers the event on the user's counter row
and commits or rolls back with the change; when someone listens, delivery is asked for once the
transaction has committed (boto3 is imported only then). A session that ends deletes its unused
tickets and marks its connections ended in its own transaction (docs/stream.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Delete, Insert, Update, event
from sqlalchemy.orm import Session

from investment_system.db.base import Base, utcnow
from investment_system.db.engine import autocommitting
from investment_system.errors import ErrorCode
from investment_system.models.stream import StreamEvent
from investment_system.repositories.base import run_gated
from investment_system.repositories.stream.stream import (
    StreamEventRepository,
    UserStreamRepository,
    connections_ending,
    tickets_deletion,
)
from investment_system.schemas.stream import StreamEventType
from investment_system.snapstart import before_snapshot

_LISTENING_USERS = "stream_listening_users"


def record_event(session: Session, user_id: uuid.UUID, event_type: StreamEventType, data: BaseModel) -> int:
    """Add the user's next event to the outbox, in the caller's transaction; its id."""
    event_id, connections = UserStreamRepository(session).next_event_id(user_id)
    StreamEventRepository(session).add(_stream_event(user_id, event_id, event_type.value, data.model_dump(mode="json")))
    if connections:
        deliver_after_commit(session, user_id)
    return event_id


def _stream_event(user_id: uuid.UUID, event_id: int, event_type: str, data: dict[str, Any]) -> StreamEvent:
    return StreamEvent(user_id=user_id, id=event_id, type=event_type, data=data, at=utcnow())


def end_session_streams(
    session: Session,
    user_id: uuid.UUID,
    session_ids: Collection[uuid.UUID],
    *,
    with_writes: Sequence[Insert | Update | Delete] = (),
) -> list[int]:
    """A step of ending some of the user's sessions (services/accounts/revocation.py): their unused tickets
    are deleted, their open connections marked to be closed with TOKEN_REVOKED, by the delivery asked for
    once committed. Sent with `with_writes`, the sessions' own revocation, as one statement on PostgreSQL
    (`repositories.base.run_gated`); the row counts of `with_writes`."""
    counts = _end_streams(
        session,
        user_id,
        tickets_deletion(session_ids=session_ids),
        connections_ending(ErrorCode.TOKEN_REVOKED.value, session_ids=session_ids),
        with_writes,
    )
    assert counts is not None  # (nothing gates them)
    return counts


def end_user_streams(
    session: Session,
    user_id: uuid.UUID,
    code: ErrorCode,
    *,
    with_writes: Sequence[Update | Delete] = (),
    gate: Update | None = None,
    records: Sequence[Base] = (),
) -> list[int] | None:
    """A step of ending every session of a user, as `end_session_streams` for each of them, the connections
    closed with `code`; with a `gate`, only when it writes (`repositories.base.run_gated`: None when not)."""
    return _end_streams(
        session,
        user_id,
        tickets_deletion(user_id=user_id),
        connections_ending(code.value, user_id=user_id),
        with_writes,
        gate,
        records,
    )


def _end_streams(
    session: Session,
    user_id: uuid.UUID,
    tickets: Delete,
    ending: Update,
    with_writes: Sequence[Insert | Update | Delete],
    gate: Update | None = None,
    records: Sequence[Base] = (),
) -> list[int] | None:
    made = run_gated(session, gate, [*with_writes, tickets, ending], records=records)
    if made is None:
        return None
    *counts, _tickets, connections = made
    if connections:
        deliver_after_commit(session, user_id)
    return counts


def deliver_after_commit(session: Session, user_id: uuid.UUID) -> None:
    """Ask for the user's delivery once the session's transaction has committed (never after a rollback);
    at once when the change committed as it ran (`db.engine.single_statement_write` on PostgreSQL)."""
    if autocommitting(session):
        from investment_system.services.stream.delivery import request_delivery

        request_delivery(user_id)
        return
    users: dict[uuid.UUID, None] | None = session.info.get(_LISTENING_USERS)
    if users is None:
        users = session.info[_LISTENING_USERS] = {}  # an ordered set
        event.listen(session, "after_commit", _request_deliveries)
    users[user_id] = None


def _prime_delivery_requests() -> None:
    """Before a SnapStart snapshot: a change of a user who listens asks for a delivery once committed."""
    from investment_system.services.stream.delivery import prime_clients

    prime_clients()


before_snapshot(_prime_delivery_requests)


def _request_deliveries(session: Session) -> None:
    """After COMMIT (never after a rollback): ask for each listening user's delivery."""
    from investment_system.services.stream.delivery import request_delivery

    users: dict[uuid.UUID, Any] = session.info.pop(_LISTENING_USERS, {})
    for user_id in users:
        request_delivery(user_id)
