"""Delivery: a user's new events, in order, to each of the user's open connections.

StreamDeliveryFunction alone pushes; `request_delivery` (an asynchronous `Invoke`) asks it to, after
a change commits, a session ends or a connection opens. `deliver` closes evicted and ended
connections, waits for a new one to be open, takes the user's lease (one run pushes at a time), then
reads each connection's events in a short transaction, pushes them with no lock held, and records the
cursors. Delivery is at least once; clients skip ids they have seen. `request_close` closes one
connection. The steps and why: docs/stream.md#delivery-after-commit-in-order-at-least-once.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import cache
from typing import Any

from investment_system.db import unit_of_work
from investment_system.db.base import utcnow
from investment_system.errors import CATALOGUE, ErrorCode
from investment_system.models.stream import StreamEvent
from investment_system.observability import MetricName, add_metric, logger
from investment_system.repositories.stream.stream import (
    ConnectionRepository,
    StreamEventRepository,
    UserStreamRepository,
)
from investment_system.settings import get_settings
from investment_system.snapstart import after_restore, before_snapshot

MAX_REPLAY = 100
# A connection this young that API Gateway calls gone may still be opening: it is kept.
HANDSHAKE_GRACE = timedelta(seconds=10)
OPEN_WAIT_SECONDS = 5.0
OPEN_POLL_SECONDS = 0.05
# A run holds the user's delivery lease at most this long: longer than the delivery function's timeout
# (template.yaml, a test checks), so a run that died never holds up the user's deliveries for good.
DELIVERY_LEASE = timedelta(seconds=45)
MAX_ROUNDS = 10  # then the lease goes to another run


class Push(Enum):
    SENT = "sent"
    GONE = "gone"
    FAILED = "failed"


@dataclass
class DeliveryReport:
    pushed: int = 0
    gone: list[str] = field(default_factory=list)  # closed (their session ended), or reported gone
    failed: int = 0


def event_frame(event: StreamEvent) -> dict[str, Any]:
    """An event as the client receives it."""
    at = event.at.astimezone(UTC).isoformat().replace("+00:00", "Z")  # as the API writes times
    return {"type": event.type, "id": str(event.id), "at": at, "data": event.data}


def error_frame(code: ErrorCode, message: str | None = None) -> dict[str, Any]:
    return {"type": "error", "code": code.value, "message": message or CATALOGUE[code].message}


# --- Asking for a delivery (any function whose changes have listeners, and $connect) -----------------


@cache
def _lambda_client() -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"})
    return boto3.client("lambda", config=config)


def request_delivery(user_id: uuid.UUID, *, opened: str | None = None, evicted: Sequence[str] = ()) -> None:
    """Invoke the delivery function asynchronously for the user. Never raises: the events are in the
    outbox, and the next delivery, or a reconnect with last_event_id, sends them."""
    payload: dict[str, Any] = {"user_id": str(user_id)}
    if opened:
        payload["opened"] = opened
    if evicted:
        payload["evicted"] = list(evicted)
    _invoke_delivery(payload)


def request_close(connection_id: str, code: ErrorCode) -> None:
    """Invoke the delivery function asynchronously to close one connection: an error frame with `code`
    (the reason; locally it also chooses the close code, see docs/stream.md), then DeleteConnection.
    Never raises."""
    _invoke_delivery({"close": connection_id, "code": code.value})


def _invoke_delivery(payload: dict[str, Any]) -> None:
    function = get_settings().stream.delivery_function
    if not function:
        return  # no stream configured (a test, the benchmark): the outbox alone is kept
    try:
        _lambda_client().invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(payload).encode())
    except Exception as error:
        add_metric(MetricName.STREAM_PUSH_FAILURES)
        logger.warning("Could not ask for a stream delivery", extra={"error_type": type(error).__name__})


# --- The Management API (StreamDeliveryFunction only) ----------------------------------------------


@cache
def _management_client() -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2, "mode": "standard"})
    return boto3.client(
        "apigatewaymanagementapi", endpoint_url=get_settings().stream.management_endpoint, config=config
    )


def prime_clients() -> None:
    """Before a SnapStart snapshot: boto3 and the service models of the clients this container's stream
    settings call for, which the first delivery request or push after a restore would
    otherwise load. The clients are made again after the restore (the endpoint is a setting, read
    again); what they loaded stays. No request is sent."""
    stream = get_settings().stream
    if stream.delivery_function:
        _lambda_client()
    if stream.management_endpoint:
        _management_client()


before_snapshot(prime_clients)
after_restore(_lambda_client.cache_clear)
after_restore(_management_client.cache_clear)


def _call(operation: str, connection_id: str, **arguments: Any) -> Push:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        getattr(_management_client(), operation)(ConnectionId=connection_id, **arguments)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "GoneException":
            return Push.GONE
        logger.warning("Management API refused", extra={"operation": operation, "error": error.response.get("Error")})
        return Push.FAILED
    except BotoCoreError as error:
        logger.warning("Management API unreachable", extra={"operation": operation, "error_type": type(error).__name__})
        return Push.FAILED
    return Push.SENT


def post(connection_id: str, frame: dict[str, Any]) -> Push:
    outcome = _call("post_to_connection", connection_id, Data=json.dumps(frame, separators=(",", ":")).encode())
    if outcome is Push.FAILED:
        add_metric(MetricName.STREAM_PUSH_FAILURES)
    return outcome


# --- The delivery function's use case ----------------------------------------------------------------


@dataclass
class _Cursor:
    """A connection as a round read it: the events to send it, and where its cursor is after them."""

    id: str
    connected_at: datetime
    last_event_id: int
    skip_from: int | None
    skip_to: int | None
    end_code: str | None  # its session ended: it is sent this error and closed, nothing else
    events: list[StreamEvent] = field(default_factory=list)
    complete: bool = True  # the events read are all it lacks
    read_as: tuple[int, int | None, int | None] = (0, None, None)

    @property
    def moved(self) -> bool:
        return (self.last_event_id, self.skip_from, self.skip_to) != self.read_as


def deliver(user_id: uuid.UUID, *, opened: str | None = None, evicted: Sequence[str] = ()) -> DeliveryReport:
    """Close the evicted connections, wait for the opened one, then, holding the user's delivery lease,
    send every connection what it lacks and close those whose session ended."""
    for connection_id in evicted:
        close(connection_id, ErrorCode.CONNECTION_LIMIT_EXCEEDED)
    if opened is not None and not _wait_until_open(opened):
        logger.info("A new stream connection never opened", extra={"connection_id": opened})
    report = DeliveryReport()
    cursors = _read(user_id, take_lease=True)
    rounds = 0
    while cursors is not None:
        removed: list[str] = []
        more = _push(cursors, report, removed)
        report.gone += removed
        rounds += 1
        if not _record(user_id, cursors, removed, more=more):
            break
        if rounds == MAX_ROUNDS:  # rounds enough for one run: the lease goes to another
            with unit_of_work() as session:
                UserStreamRepository(session).release_delivery(user_id)
            request_delivery(user_id)
            break
        cursors = _read(user_id)
    if report.pushed:
        add_metric(MetricName.STREAM_EVENTS_PUSHED, report.pushed)
    return report


def close(connection_id: str, code: ErrorCode) -> Push:
    """Close one connection: a last error frame saying why, then DeleteConnection ($disconnect then
    forgets it). How the DeleteConnection went."""
    post(connection_id, error_frame(code))
    return _call("delete_connection", connection_id)


def remove_connection(connection_id: str) -> None:
    """Forget a closed connection ($disconnect): its row, and its count on the user's row (locked first:
    every transaction takes the user's row before connection rows)."""
    with unit_of_work() as session:
        connections = ConnectionRepository(session)
        user_id = connections.user_of(connection_id)
        if user_id is not None:
            streams = UserStreamRepository(session)
            streams.lock(user_id)
            streams.count_connections(user_id, -connections.delete([connection_id]))
        open_connections = connections.count()
    add_metric(MetricName.STREAM_CONNECTIONS_OPEN, open_connections)


def _wait_until_open(connection_id: str) -> bool:
    deadline = time.monotonic() + OPEN_WAIT_SECONDS
    while True:
        outcome = _call("get_connection", connection_id)
        if outcome is Push.SENT:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(OPEN_POLL_SECONDS)


def _read(user_id: uuid.UUID, *, take_lease: bool = False) -> list[_Cursor] | None:
    """One moment of the user's stream, in a short transaction: each connection, whether its session
    ended, and the events it lacks (at most 100). The user's row is locked meanwhile, as every event's
    writer locks it: an event read here was committed before each connection's state was read, so a
    connection whose session ended before an event was committed is read ended. None when `take_lease`
    finds another run holding the lease (that run goes round once more instead)."""
    with unit_of_work() as session:
        streams = UserStreamRepository(session)
        if take_lease:
            if not streams.take_delivery(user_id, utcnow(), DELIVERY_LEASE):
                return None
        else:
            streams.lock(user_id)
        events = StreamEventRepository(session)
        cursors = []
        for connection in ConnectionRepository(session).of_user(user_id):
            read_as = (connection.last_event_id, connection.skip_from, connection.skip_to)
            cursor = _Cursor(connection.id, connection.connected_at, *read_as, connection.end_code, read_as=read_as)
            if cursor.end_code is None:
                _skip_if_replayed(cursor)
                batch = events.after(user_id, cursor.last_event_id, MAX_REPLAY)
                cursor.complete = len(batch) < MAX_REPLAY and cursor.skip_from is None
                cursor.events = [event for event in batch if cursor.skip_from is None or event.id <= cursor.skip_from]
            cursors.append(cursor)
    return cursors


def _push(cursors: list[_Cursor], report: DeliveryReport, removed: list[str]) -> bool:
    """Outside any transaction: close the connections whose session ended (first: a slow push to another
    connection does not hold them open), send each other connection its events, adding to `removed`
    the connections closed or gone. Whether more is left to send."""
    young = utcnow() - HANDSHAKE_GRACE
    more = False
    opening: list[str] = []
    for cursor in sorted(cursors, key=lambda cursor: cursor.end_code is None):
        if cursor.end_code is not None:
            if close(cursor.id, ErrorCode(cursor.end_code)) is not Push.FAILED:
                removed.append(cursor.id)
            continue
        outcome = _send(cursor, report)
        if outcome is Push.GONE:
            (removed if cursor.connected_at < young else opening).append(cursor.id)
        more = more or (outcome is Push.SENT and not cursor.complete)
    # Connections still in their handshake: once they are open, they are sent theirs.
    return more or bool([connection_id for connection_id in opening if _wait_until_open(connection_id)])


def _send(cursor: _Cursor, report: DeliveryReport) -> Push:
    """Send the connection its events, oldest first, moving its cursor; how it ended."""
    for event in cursor.events:
        outcome = post(cursor.id, event_frame(event))
        if outcome is not Push.SENT:
            report.failed += outcome is Push.FAILED
            return outcome
        cursor.last_event_id = event.id
        report.pushed += 1
    _skip_if_replayed(cursor)
    return Push.SENT


def _record(user_id: uuid.UUID, cursors: list[_Cursor], removed: list[str], *, more: bool) -> bool:
    """In a short transaction: move the cursors, forget the connections closed or gone (as $disconnect
    would); whether the run goes round again, keeping its lease."""
    with unit_of_work() as session:
        streams = UserStreamRepository(session)
        streams.lock(user_id)
        connections = ConnectionRepository(session)
        for cursor in cursors:
            if cursor.moved and cursor.id not in removed:
                connections.move_cursor(cursor.id, cursor.last_event_id, cursor.skip_from, cursor.skip_to)
        if removed:
            streams.count_connections(user_id, -connections.delete(removed))
            add_metric(MetricName.STREAM_CONNECTIONS_OPEN, connections.count())
        return streams.continue_delivery(user_id, utcnow(), DELIVERY_LEASE, more=more)


def _skip_if_replayed(cursor: _Cursor) -> None:
    """Once a replay cut at 100 events is sent, continue after the events it left out."""
    skip_from, skip_to = cursor.skip_from, cursor.skip_to
    if skip_from is not None and skip_to is not None and cursor.last_event_id >= skip_from:
        cursor.last_event_id = max(cursor.last_event_id, skip_to)
        cursor.skip_from = cursor.skip_to = None
