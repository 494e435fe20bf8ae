"""The real-time stream's use cases: tickets, opening and closing connections.

A ticket (`issue_ticket`) is single-use, stored as its SHA-256 hash, valid for 60 s and while its
session lasts; `connect` deletes it as it reads it, so anything else is a 401 at the handshake. The
connection records its session and its cursor (the user's last event, or a replay of at most 100
from `last_event_id`); a user keeps at most 5 connections, the oldest evicted. A replay or an
eviction asks for a delivery. docs/stream.md#tickets-and-connections.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from investment_system.db import unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import AuthenticationError, ErrorCode, RequestError
from investment_system.models.stream import CONNECTION_ID_MAX, StreamConnection
from investment_system.models.stream import StreamTicket as StreamTicketRow
from investment_system.observability import MetricName, add_metric
from investment_system.repositories.stream.stream import ConnectionRepository, TicketRepository, UserStreamRepository
from investment_system.schemas.stream import StreamTicket
from investment_system.services.stream.delivery import MAX_REPLAY, request_delivery

TICKET_TTL = timedelta(seconds=60)
MAX_CONNECTIONS_PER_USER = 5
_TICKET_BYTES = 32
_MAX_EVENT_ID_DIGITS = 18  # a BIGINT


def _ticket(token_hash: str, user_id: uuid.UUID, session_id: uuid.UUID) -> StreamTicketRow:
    return StreamTicketRow(
        token_hash=token_hash, user_id=user_id, session_id=session_id, expires_at=utcnow() + TICKET_TTL
    )


def _connection(
    connection_id: str, user_id: uuid.UUID, session_id: uuid.UUID, start: int, last: int
) -> StreamConnection:
    """A new connection whose cursor is at `start`; a replay of more than 100 events up to `last` is cut."""
    cut = last - start > MAX_REPLAY
    return StreamConnection(
        id=connection_id,
        user_id=user_id,
        session_id=session_id,
        connected_at=utcnow(),
        last_event_id=start,
        skip_from=start + MAX_REPLAY if cut else None,
        skip_to=last if cut else None,
    )


def _ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def issue_ticket(user_id: uuid.UUID, session_id: uuid.UUID) -> StreamTicket:
    """A ticket for the user, valid while the session (the caller's login) lasts."""
    ticket = secrets.token_urlsafe(_TICKET_BYTES)
    with unit_of_work() as session:
        TicketRepository(session).add(_ticket(_ticket_hash(ticket), user_id, session_id))
    return StreamTicket(ticket=ticket, expires_in=int(TICKET_TTL.total_seconds()))


def connect(ticket: str | None, connection_id: str, replay_after: str | None = None) -> uuid.UUID:
    """Open a connection for the ticket's owner (401 STREAM_TICKET_INVALID otherwise); the owner.

    `replay_after` is the query's `last_event_id`: a non-negative integer (400 otherwise, the ticket
    left unused)."""
    last_event_id = _event_id(replay_after)
    if not ticket or len(ticket) > 2 * _TICKET_BYTES or not connection_id or len(connection_id) > CONNECTION_ID_MAX:
        raise AuthenticationError(ErrorCode.STREAM_TICKET_INVALID)
    token_hash = _ticket_hash(ticket)
    with unit_of_work() as session:
        now = utcnow()
        tickets = TicketRepository(session)
        found = tickets.find(token_hash, now)
        # The session is read (share-locked) before the ticket is taken, as an ending takes them.
        if found is None or not tickets.session_is_live(found[1], now) or not tickets.take(token_hash, now):
            raise AuthenticationError(ErrorCode.STREAM_TICKET_INVALID)
        user_id, session_id = found
        streams = UserStreamRepository(session)
        last, _ = streams.lock(user_id)
        start = last if last_event_id is None else min(last_event_id, last)
        connections = ConnectionRepository(session)
        connections.add(_connection(connection_id, user_id, session_id, start, last))
        evicted = [c.id for c in connections.of_user(user_id)][:-MAX_CONNECTIONS_PER_USER]
        streams.count_connections(user_id, 1 - connections.delete(evicted))
        open_connections = connections.count()
    add_metric(MetricName.STREAM_CONNECTIONS_OPEN, open_connections)
    if last_event_id is not None:
        add_metric(MetricName.STREAM_REPLAY_SIZE, min(last - start, MAX_REPLAY))
    if start < last or evicted:  # a replay to send, connections to close
        request_delivery(user_id, opened=connection_id, evicted=evicted)
    return user_id


def _event_id(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > _MAX_EVENT_ID_DIGITS:
        raise RequestError(ErrorCode.INVALID_QUERY_PARAMETER, "last_event_id must be an event id: 0, 1, 2...")
    return int(text)
