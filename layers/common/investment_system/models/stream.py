"""The real-time stream's tables: the per-user event outbox, its counter, tickets and open connections.

- `user_streams`: one row per user who ever had an event or a connection. `last_event_id` numbers
  the user's events (1, 2, 3...); the writer of an event takes the row's lock, so a user's events
  commit in the order of their ids. `connections` counts the user's open connections, kept in the
  same transactions that add and remove them: a writer reads it under that lock and knows, race-free,
  whether anyone is listening.
- `stream_events`: the outbox. An event is written in the transaction of the change it reports.
- `stream_tickets`: single-use, short-lived connection tickets, stored as SHA-256 hashes.
- `stream_connections`: the open WebSocket connections (API Gateway's connection ids) and, for each,
  the last event it was sent (`last_event_id`); `skip_from`/`skip_to` mark the events a replay of
  more than 100 leaves out.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from investment_system.db.base import UUID_TYPE, Base, UTCDateTime

# The column itself, not "users.id": a function that never loads the users model (the stream's) still
# resolves the foreign key.
from investment_system.models.users import User

EVENT_ID = BigInteger().with_variant(Integer, "sqlite")
CONNECTION_ID_MAX = 128


class UserStream(Base):
    __tablename__ = "user_streams"

    user_id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, ForeignKey(User.id, ondelete="CASCADE"), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(EVENT_ID, nullable=False, default=0)
    connections: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class StreamEvent(Base):
    __tablename__ = "stream_events"
    __table_args__ = (Index("ix_stream_events_at", "at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, ForeignKey(User.id, ondelete="CASCADE"), primary_key=True)
    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class StreamTicket(Base):
    __tablename__ = "stream_tickets"
    __table_args__ = (Index("ix_stream_tickets_expires_at", "expires_at"),)

    # SHA-256 of the ticket: a database leak yields no usable ticket.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, ForeignKey(User.id, ondelete="CASCADE"), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class StreamConnection(Base):
    __tablename__ = "stream_connections"
    __table_args__ = (Index("ix_stream_connections_user_connected", "user_id", "connected_at"),)

    id: Mapped[str] = mapped_column(String(CONNECTION_ID_MAX), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, ForeignKey(User.id, ondelete="CASCADE"), nullable=False)
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # The last event this connection was sent (or, before the first push, the replay's start).
    last_event_id: Mapped[int] = mapped_column(EVENT_ID, nullable=False)
    # A replay of more than 100 events: those after skip_from up to skip_to are not sent.
    skip_from: Mapped[int | None] = mapped_column(EVENT_ID)
    skip_to: Mapped[int | None] = mapped_column(EVENT_ID)
