"""Helpers for the signals tests: real users with access tokens, sample bodies, direct row edits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from invest_dev.samples import session_tokens
from investment_system.db.engine import unit_of_work
from investment_system.models import Signal, User
from tests.support.functions import Reply, invoke


@dataclass(frozen=True)
class Investor:
    user_id: uuid.UUID
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_investor(name: str = "investor") -> Investor:
    """A users row (active, role user) and an access token for it."""
    with unit_of_work() as session:
        user = User(email=f"{name}-{uuid.uuid4().hex[:8]}@example.com", password_hash="not-a-real-hash", role="user")
        session.add(user)
        session.flush()
        user_id = user.id
    return Investor(user_id=user_id, token=session_tokens(user_id).access_token)


def buy_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "symbol": "aapl",
        "direction": "BUY",
        "confidence": 0.75,
        "entry_price": "187.25",
        "target_price": "200",
        "stop_loss": "180.5",
        "timeframe": "1d",
        "strategy": "breakout",
        "notes": "earnings run-up",
    }
    body.update(overrides)
    return body


def sell_body(**overrides: Any) -> dict[str, Any]:
    return buy_body(**{"direction": "SELL", "target_price": "170", "stop_loss": "195", **overrides})


# Function logical IDs of template.yaml and the route each serves.
CREATE = ("CreateSignalFunction", "POST", "/v1/signals")
LIST = ("ListSignalsFunction", "GET", "/v1/signals")
ANALYTICS = ("GetSignalAnalyticsFunction", "GET", "/v1/signals/analytics")
GET = ("GetSignalFunction", "GET", "/v1/signals/{id}")
UPDATE = ("UpdateSignalFunction", "PATCH", "/v1/signals/{id}")
CLOSE = ("CloseSignalFunction", "POST", "/v1/signals/{id}/close")
DELETE = ("DeleteSignalFunction", "DELETE", "/v1/signals/{id}")
HISTORY = ("GetSignalHistoryFunction", "GET", "/v1/signals/{id}/history")


def call(
    route: tuple[str, str, str],
    investor: Investor | None = None,
    signal_id: str | None = None,
    *,
    json_body: Any = None,
    body: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """Invoke the function of `route` as API Gateway would, as `investor` (None: anonymous)."""
    logical_id, method, template = route
    path = template.replace("{id}", signal_id) if signal_id is not None else template
    return invoke(
        logical_id,
        method,
        path,
        route=template,
        json_body=json_body,
        body=body,
        query=query,
        headers={**(investor.headers if investor else {}), **(headers or {})},
        path_parameters={"id": signal_id} if signal_id is not None else None,
    )


def create(investor: Investor, body: dict[str, Any] | None = None) -> dict[str, Any]:
    reply = call(CREATE, investor, json_body=body if body is not None else buy_body())
    assert reply.status == 201, reply.text
    created: dict[str, Any] = reply.json
    return created


def set_row(signal_id: str | uuid.UUID, **values: Any) -> None:
    """Edit a signal's row directly: what time passing (or another writer) would have done."""
    with unit_of_work() as session:
        signal = session.get(Signal, uuid.UUID(str(signal_id)))
        assert signal is not None
        for name, value in values.items():
            setattr(signal, name, value)


def stored_status(signal_id: str | uuid.UUID) -> str:
    with unit_of_work() as session:
        signal = session.get(Signal, uuid.UUID(str(signal_id)))
        assert signal is not None
        return signal.status


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
