"""A Python client generated from the OpenAPI document (openapi-python-client) drives the API.

The client is generated here, into the test's directory, from the document the API serves; then a
user's first steps go through it against the local gateway: sign up, log in, create signals, page
through them with the cursor, close one, read the analytics, look at and keep the subscription.
Every call uses the generated operations and models, so a document a client cannot be generated
from, or one whose operations, enums or schemas do not match the API, fails here.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from invest_dev.openapi import BUNDLED
from tests.support.accounts import PASSWORD
from tests.support.gateway import RunningGateway, invest_serve_command, migrated_api_environment

pytestmark = pytest.mark.slow

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "invest_api_client"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    gateway = RunningGateway(invest_serve_command(), migrated_api_environment(tmp_path_factory.mktemp("client-api")))
    yield gateway
    assert gateway.stop() == 0


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client openapi-python-client generates from the bundled document, imported."""
    out = tmp_path_factory.mktemp("client")
    command = [str(GENERATOR), "generate", "--path", str(BUNDLED), "--meta", "none", "--fail-on-warning"]
    # Its post-generation hooks run ruff, which is in this venv.
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    generated = subprocess.run(
        [*command, "--output-path", str(out / PACKAGE)], env=env, capture_output=True, text=True, check=False
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    sys.path.insert(0, str(out))
    yield importlib.import_module(PACKAGE)
    sys.path.remove(str(out))
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


def test_a_users_first_steps_through_the_generated_client(api, client_package):
    from invest_api_client import AuthenticatedClient, Client
    from invest_api_client.api.auth import login, register
    from invest_api_client.api.billing import change_plan, get_subscription
    from invest_api_client.api.signals import close_signal, create_signal, get_signal_analytics, list_signals
    from invest_api_client.models import (
        ChangePlanRequest,
        Credentials,
        Direction,
        ErrorEnvelope,
        PlanCode,
        Registration,
        Role,
        SignalClose,
        SignalCreate,
        SignalStatus,
        SubscriptionStatus,
        Timeframe,
    )

    anonymous = Client(base_url=api.base_url, raise_on_unexpected_status=True)
    email = f"client-{uuid.uuid4().hex[:8]}@example.com"

    # When a user signs up and logs in through the client
    user = register.sync(client=anonymous, body=Registration(email=email, password=PASSWORD, full_name="Ada"))
    assert (user.email, user.role) == (email, Role.USER)
    tokens = login.sync(client=anonymous, body=Credentials(email=email, password=PASSWORD))
    me = AuthenticatedClient(base_url=api.base_url, token=tokens.access_token, raise_on_unexpected_status=True)

    # And creates three signals, the first with an Idempotency-Key
    def new_signal(symbol: str, **options: str):
        body = SignalCreate(
            symbol=symbol,
            direction=Direction.BUY,
            confidence=0.75,
            entry_price="200",
            stop_loss="190",
            target_price=220,
            timeframe=Timeframe.ONE_HOUR,
        )
        return create_signal.sync_detailed(client=me, body=body, **options)

    first = new_signal("aapl", idempotency_key=f"create-{uuid.uuid4()}")
    assert first.status_code == 201
    assert first.headers["X-Correlation-ID"]
    signal = first.parsed
    assert (signal.symbol, signal.timeframe, signal.status, signal.entry_price) == (
        "AAPL",
        Timeframe.ONE_HOUR,
        SignalStatus.OPEN,
        "200",
    )
    new_signal("msft")
    new_signal("btc-usd")

    # Then the list pages through them with the cursor, newest first
    page = list_signals.sync(client=me, limit=2)
    assert [s.symbol for s in page.items] == ["BTC-USD", "MSFT"]
    rest = list_signals.sync(client=me, limit=2, cursor=page.next_cursor)
    assert ([s.id for s in rest.items], rest.next_cursor) == ([signal.id], None)

    # When one is closed above its entry
    closed = close_signal.sync(client=me, id=str(signal.id), body=SignalClose(exit_price="210"))
    assert (closed.status, closed.return_pct) == (SignalStatus.CLOSED, "5.0000")
    # Then closing it again is an error the client reads as the envelope
    again = close_signal.sync(client=me, id=str(signal.id), body=SignalClose(exit_price="211"))
    assert isinstance(again, ErrorEnvelope)
    assert again.error.code == "SIGNAL_NOT_OPEN"

    # And the analytics count them
    analytics = get_signal_analytics.sync(client=me)
    assert (analytics.total, analytics.by_status.open_, analytics.by_status.closed) == (3, 2, 1)
    assert (analytics.closed.wins, analytics.closed.average_return_pct) == (1, "5.0000")

    # And a new user's subscription is free and active, and keeping that plan changes nothing
    subscription = get_subscription.sync(client=me)
    assert (subscription.plan.code, subscription.status) == (PlanCode.FREE, SubscriptionStatus.ACTIVE)
    kept = change_plan.sync(client=me, body=ChangePlanRequest(plan=PlanCode.FREE))
    assert (kept.plan.code, kept.current_period_start) == (PlanCode.FREE, subscription.current_period_start)
