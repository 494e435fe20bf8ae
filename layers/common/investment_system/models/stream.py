"""The real-time stream's tables: the per-user event outbox, its counter, tickets and open connections.

`user_streams` numbers a user's events under its row's lock, counts their open connections and holds
the delivery lease; `stream_events` is the outbox, written in the transaction of the change it
reports; `stream_tickets` single-use connection tickets (SHA-256 hashes) with their session;
`stream_connections` the open WebSocket connections, the last event each was sent, the events a long
replay skipped and the error a connection whose session ended gets. How they are used: docs/stream.md.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from investment_system.db.base import UUID_TYPE, Base, UTCDateTime
from investment_system.models.sessions import UserSession

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
    delivery_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivery_pending: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


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
    __table_args__ = (
        Index("ix_stream_tickets_expires_at", "expires_at"),
        Index("ix_stream_tickets_session_id", "session_id"),
    )

    # SHA-256 of the ticket: a database leak yields no usable ticket.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, ForeignKey(User.id, ondelete="CASCADE"), nullable=False)
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID_TYPE, ForeignKey(UserSession.id, ondelete="CASCADE"), nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class StreamConnection(Base):
    __tablename__ = "stream_connections"
    __table_args__ = (
        Index("ix_stream_connections_user_connected", "user_id", "connected_at"),
        Index("ix_stream_connections_session_id", "session_id"),
    )

    id: Mapped[str] = mapped_column(String(CONNECTION_ID_MAX), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID_TYPE, ForeignKey(User.id, ondelete="CASCADE"), nullable=False)
    # None for a connection opened before sessions were recorded (migration 0008): every-session endings end it.
    session_id: Mapped[uuid.UUID | None] = mapped_column(UUID_TYPE, ForeignKey(UserSession.id, ondelete="CASCADE"))
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # The last event this connection was sent (or, before the first push, the replay's start).
    last_event_id: Mapped[int] = mapped_column(EVENT_ID, nullable=False)
    # A replay of more than 100 events: those after skip_from up to skip_to are not sent.
    skip_from: Mapped[int | None] = mapped_column(EVENT_ID)
    skip_to: Mapped[int | None] = mapped_column(EVENT_ID)
    # The error code it is closed with, once its session ended (TOKEN_REVOKED, ACCOUNT_DISABLED).
    end_code: Mapped[str | None] = mapped_column(String(32))
