"""The stream's outbox: a change writes its event in the change's own transaction; an ending session
ends its streams in its own.

`record_event`, a step of the use case making the change, numbers the event on the user's counter row
and commits or rolls back with the change; when someone listens, delivery is asked for once the
transaction has committed (boto3 is imported only then). A session that ends deletes its unused
tickets and marks its connections ended in its own transaction (docs/stream.md).
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel
from sqlalchemy import event
from sqlalchemy.orm import Session

from investment_system.db.base import utcnow
from investment_system.db.engine import precompile_inserts
from investment_system.errors import ErrorCode
from investment_system.models.stream import StreamEvent
from investment_system.repositories.stream.stream import (
    ConnectionRepository,
    StreamEventRepository,
    TicketRepository,
    UserStreamRepository,
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


# Compiled before a SnapStart snapshot (db.engine.precompile_inserts): every change adds an event.
precompile_inserts(lambda: [_stream_event(uuid.UUID(int=0), 0, "", {})])


def end_session_streams(session: Session, session_id: uuid.UUID) -> None:
    """A step of ending a session (services/accounts/revocation.py), after its revocation: its unused tickets are
    deleted, its open connections marked to be closed with TOKEN_REVOKED, by the delivery asked for once
    the transaction has committed."""
    TicketRepository(session).delete_of_session(session_id)
    for user_id in ConnectionRepository(session).end_of_session(session_id, ErrorCode.TOKEN_REVOKED.value):
        deliver_after_commit(session, user_id)


def end_user_streams(session: Session, user_id: uuid.UUID, code: ErrorCode) -> None:
    """A step of ending every session of a user, after their revocation: as `end_session_streams` for
    each of them, the connections closed with `code`."""
    TicketRepository(session).delete_of_user(user_id)
    if ConnectionRepository(session).end_of_user(user_id, code.value):
        deliver_after_commit(session, user_id)


def deliver_after_commit(session: Session, user_id: uuid.UUID) -> None:
    """Ask for the user's delivery once the session's transaction has committed (never after a rollback)."""
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
