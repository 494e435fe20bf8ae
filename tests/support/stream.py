"""Helpers for the stream tests: a fake API Gateway Management API, and direct reads of the outbox."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select

from investment_system.db.engine import unit_of_work
from investment_system.models import StreamConnection, StreamEvent, UserStream
from investment_system.services.stream import delivery


class FakeManagementApi:
    """PostToConnection, GetConnection and DeleteConnection on the connections the test opens, and Lambda's
    Invoke of the delivery function. A post to a connection in `stalled` hangs (`stalling` is set) until
    `unstall` is set, as a push to a client that never reads its socket does."""

    def __init__(self) -> None:
        self.open: set[str] = set()
        self.frames: dict[str, list[dict[str, Any]]] = {}
        self.deleted: list[str] = []
        self.refuse_posts = False
        self.opening: set[str] = set()
        self.requested: list[dict[str, Any]] = []  # the payloads of Lambda Invoke (the deliveries asked for)
        self.stalled: set[str] = set()
        self.stalling = threading.Event()
        self.unstall = threading.Event()

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> None:  # noqa: N803 (boto3's names)
        assert (FunctionName, InvocationType) == ("StreamDeliveryFunction", "Event")
        self.requested.append(json.loads(Payload))

    def _known(self, connection_id: str, operation: str) -> None:
        if connection_id not in self.open:
            raise ClientError({"Error": {"Code": "GoneException", "Message": "gone"}}, operation)

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> None:  # noqa: N803 (boto3's names)
        self._known(ConnectionId, "PostToConnection")
        if ConnectionId in self.stalled:
            self.stalling.set()
            assert self.unstall.wait(60), "the test never let the stalled push go"
        if self.refuse_posts:
            raise ClientError({"Error": {"Code": "LimitExceededException", "Message": "slow"}}, "PostToConnection")
        self.frames.setdefault(ConnectionId, []).append(json.loads(Data))

    def get_connection(self, ConnectionId: str) -> dict[str, Any]:  # noqa: N803
        if ConnectionId in self.opening:  # API Gateway finishes its handshake while a delivery waits
            self.open.add(ConnectionId)
        self._known(ConnectionId, "GetConnection")
        return {}

    def delete_connection(self, ConnectionId: str) -> None:  # noqa: N803
        self._known(ConnectionId, "DeleteConnection")
        self.open.discard(ConnectionId)
        self.deleted.append(ConnectionId)

    def events_sent(self, connection_id: str) -> list[dict[str, Any]]:
        return [frame for frame in self.frames.get(connection_id, []) if frame["type"] != "error"]


def install_fake_api(monkeypatch: pytest.MonkeyPatch, settings_env: Any) -> FakeManagementApi:
    """The fake in place of the delivery's boto3 clients, with the delivery function configured."""
    fake = FakeManagementApi()
    settings_env.setenv("STREAM_DELIVERY_FUNCTION", "StreamDeliveryFunction")
    monkeypatch.setattr(delivery, "_management_client", lambda: fake)
    monkeypatch.setattr(delivery, "_lambda_client", lambda: fake)
    return fake


def outbox(user_id: uuid.UUID) -> list[StreamEvent]:
    with unit_of_work() as session:
        return list(session.scalars(select(StreamEvent).where(StreamEvent.user_id == user_id).order_by(StreamEvent.id)))


def connection_row(connection_id: str) -> StreamConnection | None:
    with unit_of_work() as session:
        return session.get(StreamConnection, connection_id)


def open_connections(user_id: uuid.UUID) -> int:
    with unit_of_work() as session:
        stream = session.get(UserStream, user_id)
        return 0 if stream is None else stream.connections
