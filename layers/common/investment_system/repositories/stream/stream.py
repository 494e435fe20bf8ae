"""Data access for the real-time stream: the per-user counter, the outbox, tickets and connections.

`UserStreamRepository.next_event_id` numbers a user's next event with one upsert that locks the
user's row until the transaction ends, so a user's events commit in the order of their ids; a
delivery reads under the same lock and keeps its lease there. `TicketRepository.session_is_live`
reads the ticket's session with a shared lock, so a connection is refused or committed before its
session's end marks it. Transactions take the session rows first, then the user's stream row, then
connection rows (docs/stream.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Delete,
    FromClause,
    Insert,
    Select,
    Update,
    delete,
    func,
    insert,
    select,
    update,
)

from investment_system.db.engine import dialect_name
from investment_system.db.upserts import OnConflict
from investment_system.models.sessions import UserSession
from investment_system.models.stream import StreamConnection, StreamEvent, StreamTicket, UserStream
from investment_system.repositories.base import RowRepository, SessionBoundRepository, execute_dml, insert_per_row_of

_COUNTERS = (UserStream.last_event_id, UserStream.connections)


def counter_upsert(
    user_id: uuid.UUID, *, events: int, connections: int, per_row_of: FromClause | None = None
) -> Insert:
    """Add `events` to the user's counter and `connections` to their connections, creating the row when
    needed (the same statement for every database: `db.upserts.OnConflict`); with `per_row_of`, once per
    row of it (`repositories.base.insert_per_row_of`)."""
    changes = {
        "last_event_id": UserStream.last_event_id + events,
        "connections": UserStream.connections + connections,
    }
    # Every column given: in a WITH beside an UPDATE, SQLAlchemy would take a Python default for an UPDATE's.
    initial = {
        "user_id": user_id,
        "last_event_id": events,
        "connections": max(connections, 0),
        "delivery_pending": False,
    }
    rows = (
        insert(UserStream).values(**initial)
        if per_row_of is None
        else insert_per_row_of(UserStream, initial, per_row_of)
    )
    return rows.ext(OnConflict(["user_id"], changes))


def _events_after(user_id: uuid.UUID, event_id: int, limit: int) -> Select[StreamEvent]:
    return (
        select(StreamEvent)
        .where(StreamEvent.user_id == user_id, StreamEvent.id > event_id)
        .order_by(StreamEvent.id)
        .limit(limit)
    )


def _connections_of(user_id: uuid.UUID) -> Select[StreamConnection]:
    return (
        select(StreamConnection)
        .where(StreamConnection.user_id == user_id)
        .order_by(StreamConnection.connected_at, StreamConnection.id)
        .with_for_update()
    )


def _user_of(connection_id: str) -> Select[uuid.UUID]:
    return select(StreamConnection.user_id).where(StreamConnection.id == connection_id)


_CONNECTION_COUNT = select(func.count()).select_from(StreamConnection)


def _lease_of(user_id: uuid.UUID) -> Select[datetime | None, bool]:
    return select(UserStream.delivery_until, UserStream.delivery_pending).where(UserStream.user_id == user_id)


def _set_lease(user_id: uuid.UUID, until: datetime | None, pending: bool) -> Update:
    return (
        update(UserStream).where(UserStream.user_id == user_id).values(delivery_until=until, delivery_pending=pending)
    )


def _ticket(token_hash: str, now: datetime) -> Select[uuid.UUID, uuid.UUID]:
    return select(StreamTicket.user_id, StreamTicket.session_id).where(
        StreamTicket.token_hash == token_hash, StreamTicket.expires_at > now
    )


def _take_ticket(token_hash: str, now: datetime) -> Delete:
    return delete(StreamTicket).where(StreamTicket.token_hash == token_hash, StreamTicket.expires_at > now)


def _live_session(session_id: uuid.UUID, now: datetime) -> Select[uuid.UUID]:
    return (
        select(UserSession.id)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None), UserSession.expires_at > now)
        .with_for_update(read=True)
    )


def _tickets_where(condition: Any) -> Delete:
    return delete(StreamTicket).where(condition)


def _ending(condition: Any, code: str) -> Update:
    return update(StreamConnection).where(condition, StreamConnection.end_code.is_(None)).values(end_code=code)


def tickets_deletion(*, session_ids: Collection[uuid.UUID] = (), user_id: uuid.UUID | None = None) -> Delete:
    """The deletion of the unused stream tickets of these sessions, or of every session of the user."""
    return _tickets_where(_of_sessions(StreamTicket, session_ids, user_id))


def connections_ending(
    code: str, *, session_ids: Collection[uuid.UUID] = (), user_id: uuid.UUID | None = None
) -> Update:
    """The open connections of these sessions, or of every session of the user, marked ended, to be closed
    with `code`."""
    return _ending(_of_sessions(StreamConnection, session_ids, user_id), code)


def _of_sessions(
    model: type[StreamTicket] | type[StreamConnection], session_ids: Collection[uuid.UUID], user_id: uuid.UUID | None
) -> Any:
    return model.user_id == user_id if user_id is not None else model.session_id.in_(session_ids)


def _cursor_move(connection_id: str, last_event_id: int, skip_from: int | None, skip_to: int | None) -> Update:
    return (
        update(StreamConnection)
        .where(StreamConnection.id == connection_id)
        .values(last_event_id=last_event_id, skip_from=skip_from, skip_to=skip_to)
    )


def _connections_deleted(connection_ids: Sequence[str]) -> Delete:
    return delete(StreamConnection).where(StreamConnection.id.in_(connection_ids))


class UserStreamRepository(SessionBoundRepository):
    def _upsert(self, user_id: uuid.UUID, *, events: int, connections: int) -> tuple[int, int]:
        """Add `events` to the user's counter and `connections` to their connections, creating the
        row when needed; the row is locked until the transaction ends. The counter and connections after."""
        upsert = counter_upsert(user_id, events=events, connections=connections)
        # MySQL has no RETURNING: it reads the row it has just locked.
        if dialect_name(self.session) in ("postgresql", "sqlite"):
            last_event_id, open_connections = execute_dml(self.session, upsert.returning(*_COUNTERS)).one()
        else:
            execute_dml(self.session, upsert)
            last_event_id, open_connections = self.session.execute(
                select(*_COUNTERS).where(UserStream.user_id == user_id)
            ).one()
        return int(last_event_id), int(open_connections)

    def next_event_id(self, user_id: uuid.UUID) -> tuple[int, int]:
        """The id of the user's next event, and how many connections the user has open."""
        return self._upsert(user_id, events=1, connections=0)

    def lock(self, user_id: uuid.UUID) -> tuple[int, int]:
        """The user's last event id and open connections, the row locked until the transaction ends."""
        return self._upsert(user_id, events=0, connections=0)

    def count_connections(self, user_id: uuid.UUID, change: int) -> None:
        """Add `change` (+1 for a connection opened, -n for n closed) to the user's open connections."""
        self._upsert(user_id, events=0, connections=change)

    def take_delivery(self, user_id: uuid.UUID, now: datetime, lease: timedelta) -> bool:
        """Take the lease of the user's deliveries (True), or, while another run holds it, note that more
        is pending, for that run to go round once more (False). The row stays locked."""
        self.lock(user_id)
        until, pending = self.session.execute(_lease_of(user_id)).one()
        if until is not None and until > now:
            if not pending:
                execute_dml(self.session, _set_lease(user_id, until, True))
            return False
        execute_dml(self.session, _set_lease(user_id, now + lease, False))
        return True

    def continue_delivery(self, user_id: uuid.UUID, now: datetime, lease: timedelta, *, more: bool) -> bool:
        """For the lease's holder, at the end of a round: keep the lease for another one (True) when the
        round left `more` to do or another run was asked for meanwhile; release it otherwise."""
        self.lock(user_id)
        _, pending = self.session.execute(_lease_of(user_id)).one()
        again = more or bool(pending)
        execute_dml(self.session, _set_lease(user_id, now + lease if again else None, False))
        return again

    def release_delivery(self, user_id: uuid.UUID) -> None:
        execute_dml(self.session, _set_lease(user_id, None, False))


class StreamEventRepository(RowRepository[StreamEvent]):
    def after(self, user_id: uuid.UUID, event_id: int, limit: int) -> Sequence[StreamEvent]:
        """The user's events after `event_id`, oldest first, at most `limit`."""
        return self.session.scalars(_events_after(user_id, event_id, limit)).all()


class TicketRepository(RowRepository[StreamTicket]):
    def find(self, token_hash: str, now: datetime) -> tuple[uuid.UUID, uuid.UUID] | None:
        """The owner and session of an unexpired ticket; None for an unknown, expired or consumed one."""
        found = self.session.execute(_ticket(token_hash, now)).first()
        return None if found is None else (found[0], found[1])

    def take(self, token_hash: str, now: datetime) -> bool:
        """Delete the unexpired ticket: True for the one call of those racing for it that deleted it."""
        return execute_dml(self.session, _take_ticket(token_hash, now)).rowcount == 1

    def session_is_live(self, session_id: uuid.UUID, now: datetime) -> bool:
        """Whether the ticket's session has neither ended nor expired; its row share-locked until the
        transaction ends (see the module docstring)."""
        return self.session.scalar(_live_session(session_id, now)) is not None


class ConnectionRepository(RowRepository[StreamConnection]):
    def of_user(self, user_id: uuid.UUID) -> Sequence[StreamConnection]:
        """The user's connections, oldest first."""
        return self.session.scalars(_connections_of(user_id)).all()

    def move_cursor(self, connection_id: str, last_event_id: int, skip_from: int | None, skip_to: int | None) -> None:
        execute_dml(self.session, _cursor_move(connection_id, last_event_id, skip_from, skip_to))

    def user_of(self, connection_id: str) -> uuid.UUID | None:
        return self.session.scalar(_user_of(connection_id))

    def delete(self, connection_ids: Sequence[str]) -> int:
        """Delete these connections; how many there were."""
        if not connection_ids:
            return 0
        return execute_dml(self.session, _connections_deleted(connection_ids)).rowcount

    def count(self) -> int:
        return int(self.session.scalar(_CONNECTION_COUNT) or 0)
