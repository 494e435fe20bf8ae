"""The Signals routes over HTTP through the local gateway (`invest serve`), on SQLite, PostgreSQL and MariaDB,
and through `sam local start-api` (make test-sam)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.support.gateway import RunningGateway, invest_serve_command
from tests.support.signals import Investor, make_investor

pytestmark = pytest.mark.slow
PRICE_WITH_18_DIGITS = "1234567890.12345678"
# sam local starts a function's container, building its image, on the function's first request.
REQUEST_TIMEOUT_SECONDS = 120


@pytest.fixture
def api(db) -> Iterator[RunningGateway]:
    """The gateway serving the test's database (clean and migrated, on each backend)."""
    gateway = RunningGateway(invest_serve_command(), {**os.environ, "DATABASE_URL": db.url})
    yield gateway
    assert gateway.stop() == 0


def _call(
    api: RunningGateway, method: str, path: str, who: Investor | None, headers: dict[str, str] | None = None, **kwargs
) -> requests.Response:
    headers = {**(headers or {}), **(who.headers if who else {})}
    return requests.request(method, api.url(path), headers=headers, timeout=REQUEST_TIMEOUT_SECONDS, **kwargs)


def test_a_signals_life_over_http(api):
    _a_signals_life(api)


@pytest.mark.sam
def test_a_signals_life_through_sam_local(sam_api, sam_api_database):
    # (every signal function in its runtime container, on the PostgreSQL database sam serves)
    _a_signals_life(sam_api)


def _a_signals_life(api: RunningGateway) -> None:
    # Given an investor and a stranger
    investor, stranger = make_investor("owner"), make_investor("stranger")
    # When a signal is posted with a JSON number price of 18 significant digits
    body = (
        '{"symbol": "btc-usd", "direction": "BUY", "confidence": 0.8, "entry_price": ' + PRICE_WITH_18_DIGITS + ", "
        '"stop_loss": "1000000000", "timeframe": "4h"}'
    )
    created = _call(api, "POST", "/v1/signals", investor, data=body, headers={"Content-Type": "application/json"})
    # Then it is created with every digit, and the contract's headers
    assert created.status_code == 201, created.text
    signal = created.json()
    assert (signal["symbol"], signal["entry_price"], signal["status"]) == ("BTC-USD", PRICE_WITH_18_DIGITS, "OPEN")
    assert created.headers["X-Content-Type-Options"] == "nosniff"
    assert created.headers["X-Correlation-ID"]
    path = f"/v1/signals/{signal['id']}"

    # The static analytics path reaches the analytics function, not GET /v1/signals/{id}
    analytics = _call(api, "GET", "/v1/signals/analytics", investor)
    assert (analytics.status_code, analytics.json()["total"]) == (200, 1)
    # And an id that is no UUID, or another user's signal, is 404 SIGNAL_NOT_FOUND
    for reply in (_call(api, "GET", "/v1/signals/not-a-uuid", investor), _call(api, "GET", path, stranger)):
        assert (reply.status_code, reply.json()["error"]["code"]) == (404, "SIGNAL_NOT_FOUND")
    assert _call(api, "DELETE", "/v1/signals/analytics", investor).status_code == 404
    # A method no route has for the path is 405 from the catch-all
    assert _call(api, "PUT", path, investor, json={}).status_code == 405

    # When it is updated, listed, closed
    patched = _call(api, "PATCH", path, investor, json={"target_price": "1300000000"})
    assert (patched.status_code, patched.json()["target_price"]) == (200, "1300000000")
    page = _call(api, "GET", "/v1/signals", investor, params={"symbol": "btc-usd", "status": "OPEN", "limit": "1"})
    assert [s["id"] for s in page.json()["items"]] == [signal["id"]]
    closed = _call(api, "POST", f"{path}/close", investor, json={"exit_price": 1358024679.13580246})
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["return_pct"]) == ("CLOSED", "10.0000")
    assert _call(api, "POST", f"{path}/close", investor, json={"exit_price": 1}).json()["error"]["code"] == (
        "SIGNAL_NOT_OPEN"
    )
    # Then the history has each change, oldest first
    history = _call(api, "GET", f"{path}/history", investor, headers={"X-Correlation-ID": "ignored-here-001"})
    assert [item["action"] for item in history.json()["items"]] == ["created", "updated", "closed"]

    # When it is deleted, it is gone for its owner
    deleted = _call(api, "DELETE", path, investor)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert _call(api, "GET", path, investor).status_code == 404
    assert _call(api, "GET", "/v1/signals", investor).json() == {"items": [], "next_cursor": None}

    # And no route answers without a token (one gateway per backend: it takes a while to start)
    _every_route_refuses_anonymous_callers(api)


def _every_route_refuses_anonymous_callers(api: RunningGateway) -> None:
    some_id = str(uuid.uuid4())
    routes = [
        ("POST", "/v1/signals"),
        ("GET", "/v1/signals"),
        ("GET", "/v1/signals/analytics"),
        ("GET", f"/v1/signals/{some_id}"),
        ("PATCH", f"/v1/signals/{some_id}"),
        ("POST", f"/v1/signals/{some_id}/close"),
        ("DELETE", f"/v1/signals/{some_id}"),
        ("GET", f"/v1/signals/{some_id}/history"),
    ]
    for method, path in routes:
        reply = _call(api, method, path, None, json={})
        assert (reply.status_code, reply.json()["error"]["code"]) == (401, "AUTHENTICATION_REQUIRED"), (method, path)
