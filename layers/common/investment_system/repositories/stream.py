"""Data access for the real-time stream: the per-user counter, the outbox, tickets and connections.

Two statements carry the stream's guarantees:

- `UserStreamRepository.next_event_id`: one upsert that numbers the user's next event and locks the
  user's row until the transaction ends (PostgreSQL and SQLite `ON CONFLICT DO UPDATE ... RETURNING`;
  MySQL `ON DUPLICATE KEY UPDATE`, then a read of the row it holds). A second writer of the same user
  waits for the first to commit, so a user's events commit in the order of their ids and a reader
  that has seen event n has seen every event before it.
- `ConnectionRepository.lock_for_user`: the user's connections, locked for a delivery. On SQLite,
  which ignores FOR UPDATE, an UPDATE of the rows comes first: it takes the database's write lock,
  so deliveries (and their cursor updates) run one at a time there too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Dialect, Executable, Select, Update, delete, func, select, update

from investment_system.db.engine import precompile
from investment_system.models.stream import StreamConnection, StreamEvent, StreamTicket, UserStream
from investment_system.repositories.base import RowRepository, SessionBoundRepository, execute_dml

_COUNTERS = (UserStream.last_event_id, UserStream.connections)


def _counter_upsert(dialect: str, user_id: uuid.UUID, *, events: int, connections: int) -> Executable:
    """Add `events` to the user's counter and `connections` to their connections, creating the row when
    needed. On PostgreSQL and SQLite it returns the counter and connections after; MySQL has no RETURNING."""
    changes = {
        "last_event_id": UserStream.last_event_id + events,
        "connections": UserStream.connections + connections,
    }
    initial = {"user_id": user_id, "last_event_id": events, "connections": max(connections, 0)}
    # Each branch imports its own dialect's module: the engine has loaded it already, and the others
    # are ~60 ms of cold start.
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        upsert = postgresql.insert(UserStream).values(**initial)
        return upsert.on_conflict_do_update(index_elements=["user_id"], set_=changes).returning(*_COUNTERS)
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        upsert_sqlite = sqlite.insert(UserStream).values(**initial)
        return upsert_sqlite.on_conflict_do_update(index_elements=["user_id"], set_=changes).returning(*_COUNTERS)
    from sqlalchemy.dialects import mysql

    return mysql.insert(UserStream).values(**initial).on_duplicate_key_update(changes)


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


def _write_lock_of_connections(user_id: uuid.UUID) -> Update:
    """SQLite ignores FOR UPDATE: this no-op UPDATE of the user's connections takes its write lock."""
    return (
        update(StreamConnection)
        .where(StreamConnection.user_id == user_id)
        .values(last_event_id=StreamConnection.last_event_id)
    )


def _user_of(connection_id: str) -> Select[uuid.UUID]:
    return select(StreamConnection.user_id).where(StreamConnection.id == connection_id)


_CONNECTION_COUNT = select(func.count()).select_from(StreamConnection)


def _primed(dialect: Dialect) -> list[Executable]:
    """Every change numbers its stream event; a delivery reads the user's connections and new events; a
    disconnect reads whose connection it was, and counts those left."""
    nobody = uuid.UUID(int=0)
    primed = [
        _counter_upsert(dialect.name, nobody, events=1, connections=0),
        _events_after(nobody, 0, 1),
        _connections_of(nobody),
        _user_of(""),
        _CONNECTION_COUNT,
    ]
    return [*primed, _write_lock_of_connections(nobody)] if dialect.name == "sqlite" else primed


# Compiled before a SnapStart snapshot (db.engine.precompile).
precompile(_primed)


class UserStreamRepository(SessionBoundRepository):
    def _upsert(self, user_id: uuid.UUID, *, events: int, connections: int) -> tuple[int, int]:
        """Add `events` to the user's counter and `connections` to their connections, creating the
        row when needed; the row is locked until the transaction ends. The counter and connections after."""
        dialect = self.session.get_bind().dialect.name
        upsert = _counter_upsert(dialect, user_id, events=events, connections=connections)
        if dialect in ("postgresql", "sqlite"):
            last_event_id, open_connections = execute_dml(self.session, upsert).one()
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


class StreamEventRepository(RowRepository[StreamEvent]):
    def after(self, user_id: uuid.UUID, event_id: int, limit: int) -> Sequence[StreamEvent]:
        """The user's events after `event_id`, oldest first, at most `limit`."""
        return self.session.scalars(_events_after(user_id, event_id, limit)).all()


class TicketRepository(RowRepository[StreamTicket]):
    def consume(self, token_hash: str, now: datetime) -> uuid.UUID | None:
        """The owner of an unexpired ticket, which this call deletes; None for an unknown, expired or
        already consumed one. Of two calls racing for one ticket, only one gets its owner."""
        owner = self.session.scalar(
            select(StreamTicket.user_id).where(StreamTicket.token_hash == token_hash, StreamTicket.expires_at > now)
        )
        if owner is None:
            return None
        taken = execute_dml(
            self.session,
            delete(StreamTicket).where(StreamTicket.token_hash == token_hash, StreamTicket.expires_at > now),
        ).rowcount
        return owner if taken == 1 else None


class ConnectionRepository(RowRepository[StreamConnection]):
    def of_user(self, user_id: uuid.UUID) -> Sequence[StreamConnection]:
        """The user's connections, oldest first."""
        return self.session.scalars(_connections_of(user_id)).all()

    def lock_for_user(self, user_id: uuid.UUID) -> Sequence[StreamConnection]:
        """The user's connections, oldest first, locked until the transaction ends (see the module docstring)."""
        if self.session.get_bind().dialect.name == "sqlite":
            execute_dml(self.session, _write_lock_of_connections(user_id))
        return self.of_user(user_id)

    def user_of(self, connection_id: str) -> uuid.UUID | None:
        return self.session.scalar(_user_of(connection_id))

    def delete(self, connection_ids: Sequence[str]) -> int:
        """Delete these connections; how many there were."""
        if not connection_ids:
            return 0
        statement = delete(StreamConnection).where(StreamConnection.id.in_(connection_ids))
        return execute_dml(self.session, statement).rowcount

    def count(self) -> int:
        return int(self.session.scalar(_CONNECTION_COUNT) or 0)
