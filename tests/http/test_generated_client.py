"""A Python client generated from the OpenAPI document (openapi-python-client) drives every operation.

The client is generated here, into the test's directory, from the document the API serves; then a user,
an administrator and the payment provider go through every operation of the document with it against
the local gateway: signing up and in, their profile and password, signals from creation to deletion,
plans, a checkout the provider pays through the signed webhook, usage, the stream ticket, the admin
routes, refreshing and logging out. Every call uses the generated operations and models with the types
they declare (UUIDs, enums, models; no casts), so a document a client cannot be generated from, or one
whose operations, enums or schemas do not match the API, fails here. The scenario is the example of
docs/api.md, which a test keeps identical to it.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from invest_dev.openapi import BUNDLED, ROOT
from tests.support.accounts import PASSWORD
from tests.support.served_api import ServedApi, provider_signature

pytestmark = pytest.mark.slow

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "invest_api_client"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApi]:
    served = ServedApi(tmp_path_factory.mktemp("client-api"))
    yield served
    assert served.stop() == 0


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


def sign(body: bytes) -> str:
    """The payment provider's X-Signature for a request body it sends now (the provider signs, not a client)."""
    return provider_signature(body, int(time.time()))


def test_every_operation_through_the_generated_client(api, client_package):
    admin_tokens = api.new_admin()
    scenario(api.base_url, admin_tokens["access_token"])


def scenario(base_url: str, admin_token: str) -> None:
    # --- the example of docs/api.md starts here ---
    from invest_api_client import AuthenticatedClient, Client
    from invest_api_client.api.admin import list_users, update_user
    from invest_api_client.api.auth import login, logout, refresh_tokens, register
    from invest_api_client.api.billing import (
        cancel_subscription,
        change_plan,
        get_subscription,
        get_usage,
        list_plans,
        receive_payment_event,
    )
    from invest_api_client.api.health import get_health
    from invest_api_client.api.signals import (
        close_signal,
        create_signal,
        delete_signal,
        get_signal,
        get_signal_analytics,
        get_signal_history,
        list_signals,
        update_signal,
    )
    from invest_api_client.api.stream import create_stream_ticket
    from invest_api_client.api.users import change_password, get_me, update_me
    from invest_api_client.models import (
        CheckoutStarted,
        Direction,
        ErrorEnvelope,
        HealthStatus,
        HistoryAction,
        LoginCredentials,
        PasswordChange,
        PaymentEvent,
        PaymentEventData,
        PlanCode,
        PlanInterval,
        Role,
        SignalClose,
        SignalCreate,
        SignalStatus,
        SignalUpdate,
        SubscriptionChange,
        SubscriptionStatus,
        Timeframe,
        TokenRefresh,
        UserAdminUpdate,
        UserRegistration,
        UserUpdate,
    )

    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
    assert get_health.sync(client=anonymous).status == HealthStatus.HEALTHY
    plans = list_plans.sync(client=anonymous)
    assert [(plan.code, plan.interval) for plan in plans.items][:1] == [(PlanCode.FREE, PlanInterval.MONTH)]

    # A user signs up and logs in
    email = f"client-{uuid.uuid4().hex[:8]}@example.com"
    password = "Plum-Orchard-Ledger-42"
    user = register.sync(client=anonymous, body=UserRegistration(email=email, password=password, full_name="Ada"))
    assert (user.email, user.role) == (email, Role.USER)
    tokens = login.sync(client=anonymous, body=LoginCredentials(email=email, password=password))
    me = AuthenticatedClient(base_url=base_url, token=tokens.access_token, raise_on_unexpected_status=True)
    assert update_me.sync(client=me, body=UserUpdate(full_name="Ada Lovelace")).full_name == "Ada Lovelace"
    assert get_me.sync(client=me).id == user.id

    # Signals: created (once, whatever the retries, with an Idempotency-Key), listed, read, changed, closed
    def new_signal(symbol: str):
        body = SignalCreate(
            symbol=symbol,
            direction=Direction.BUY,
            confidence=0.75,
            entry_price="200",
            stop_loss="190",
            target_price="220",
            timeframe=Timeframe.ONE_HOUR,
        )
        return create_signal.sync(client=me, body=body, idempotency_key=f"create-{uuid.uuid4()}")

    signal = new_signal("aapl")
    assert (signal.symbol, signal.status, signal.entry_price) == ("AAPL", SignalStatus.OPEN, "200")
    new_signal("msft")
    page = list_signals.sync(client=me, limit=1)
    assert [s.symbol for s in page.items] == ["MSFT"]
    assert [s.id for s in list_signals.sync(client=me, limit=1, cursor=page.next_cursor).items] == [signal.id]
    assert get_signal.sync(signal.id, client=me).symbol == "AAPL"
    assert update_signal.sync(signal.id, client=me, body=SignalUpdate(target_price="230")).target_price == "230"
    closed = close_signal.sync(signal.id, client=me, body=SignalClose(exit_price="210"))
    assert (closed.status, closed.return_pct) == (SignalStatus.CLOSED, "5.0000")
    again = close_signal.sync(signal.id, client=me, body=SignalClose(exit_price="211"))
    assert isinstance(again, ErrorEnvelope)
    assert again.error.code == "SIGNAL_NOT_OPEN"
    history = get_signal_history.sync(signal.id, client=me)
    assert [entry.action for entry in history.items] == [
        HistoryAction.CREATED,
        HistoryAction.UPDATED,
        HistoryAction.CLOSED,
    ]
    analytics = get_signal_analytics.sync(client=me)
    assert (analytics.total, analytics.closed.wins, analytics.closed.average_return_pct) == (2, 1, "5.0000")
    assert delete_signal.sync_detailed(signal.id, client=me).status_code == 204

    # Billing: a dearer plan waits for its payment, which the provider's signed webhook confirms
    started = change_plan.sync(client=me, body=SubscriptionChange(plan=PlanCode.PRO))
    assert isinstance(started, CheckoutStarted)
    event = PaymentEvent(
        id=f"evt_{uuid.uuid4().hex}",
        type_="invoice.paid",
        data=PaymentEventData(
            user_id=user.id,
            checkout_id=started.checkout.id,
            amount_cents=started.checkout.amount_cents,
            currency=started.checkout.currency,
        ),
    )
    signature = sign(httpx.Request("POST", base_url, json=event.to_dict()).content)
    assert receive_payment_event.sync(client=anonymous, body=event, x_signature=signature).applied is True
    subscription = get_subscription.sync(client=me)
    assert (subscription.plan.code, subscription.status) == (PlanCode.PRO, SubscriptionStatus.ACTIVE)
    assert get_usage.sync(client=me).signals_per_day == subscription.plan.quotas.signals_per_day
    assert cancel_subscription.sync(client=me).cancel_at_period_end is True

    # The real-time stream's ticket
    assert create_stream_ticket.sync(client=me).expires_in > 0

    # An administrator finds the user and deactivates them, then activates them again
    admin = AuthenticatedClient(base_url=base_url, token=admin_token, raise_on_unexpected_status=True)
    found = list_users.sync(client=admin, role=Role.USER, limit=100)
    assert user.id in [u.id for u in found.items]
    assert update_user.sync(user.id, client=admin, body=UserAdminUpdate(is_active=False)).is_active is False
    assert update_user.sync(user.id, client=admin, body=UserAdminUpdate(is_active=True)).is_active is True

    # Deactivation ended the user's sessions: they log in again, change their password (which ends every
    # session too), log in with the new one, refresh and log out
    tokens = login.sync(client=anonymous, body=LoginCredentials(email=email, password=password))
    me = AuthenticatedClient(base_url=base_url, token=tokens.access_token, raise_on_unexpected_status=True)
    new_password = "Copper-Meadow-Signal-93"
    changed = change_password.sync_detailed(
        client=me, body=PasswordChange(current_password=password, new_password=new_password)
    )
    assert changed.status_code == 204
    tokens = login.sync(client=anonymous, body=LoginCredentials(email=email, password=new_password))
    tokens = refresh_tokens.sync(client=anonymous, body=TokenRefresh(refresh_token=tokens.refresh_token))
    me = AuthenticatedClient(base_url=base_url, token=tokens.access_token, raise_on_unexpected_status=True)
    ended = logout.sync_detailed(client=me, body=TokenRefresh(refresh_token=tokens.refresh_token))
    assert ended.status_code == 204
    # --- the example of docs/api.md ends here ---


def test_conditional_requests_through_the_generated_client(api, client_package):
    from invest_api_client import AuthenticatedClient, Client
    from invest_api_client.api.auth import login, register
    from invest_api_client.api.signals import create_signal, get_signal, update_signal
    from invest_api_client.models import (
        Direction,
        ErrorEnvelope,
        LoginCredentials,
        SignalCreate,
        SignalUpdate,
        Timeframe,
        UserRegistration,
    )

    anonymous = Client(base_url=api.base_url, raise_on_unexpected_status=True)
    email = f"etag-{uuid.uuid4().hex[:8]}@example.com"
    register.sync(client=anonymous, body=UserRegistration(email=email, password=PASSWORD))
    tokens = login.sync(client=anonymous, body=LoginCredentials(email=email, password=PASSWORD))
    me = AuthenticatedClient(base_url=api.base_url, token=tokens.access_token, raise_on_unexpected_status=True)
    body = SignalCreate(
        symbol="aapl", direction=Direction.BUY, confidence=0.5, entry_price="200", timeframe=Timeframe.ONE_HOUR
    )
    signal_id = create_signal.sync(client=me, body=body).id

    # When the client reads the signal, then asks again with the ETag it got
    read = get_signal.sync_detailed(client=me, id=signal_id)
    etag = read.headers["ETag"]
    unchanged = get_signal.sync_detailed(client=me, id=signal_id, if_none_match=etag)
    # Then the second answer is 304, without a body
    assert (read.status_code, unchanged.status_code, unchanged.parsed) == (200, 304, None)
    # And a change with that ETag goes through, a second one with it is refused as stale
    changed = update_signal.sync(client=me, id=signal_id, body=SignalUpdate(notes="first"), if_match=etag)
    assert changed.notes == "first"
    stale = update_signal.sync(client=me, id=signal_id, body=SignalUpdate(notes="second"), if_match=etag)
    assert isinstance(stale, ErrorEnvelope)
    assert stale.error.code == "PRECONDITION_FAILED"


def _example_in(text: str) -> str:
    """The code between the example's markers, dedented."""
    found = re.search(r"# --- the example of docs/api.md starts here ---\n(.*?)\n\s*# --- the example", text, re.S)
    assert found, "the example's markers are missing"
    return inspect.cleandoc(found.group(1))


def test_the_docs_example_is_this_scenario():
    # Given the example docs/api.md shows for a generated client
    docs = (ROOT / "docs/api.md").read_text()
    shown = re.search(r"<!-- generated-client example -->\n```python\n(.*?)```", docs, re.S)
    assert shown, "docs/api.md has no generated-client example"
    # Then it is this test's scenario, line for line (blank lines aside: the formatter sets them per file)
    assert _lines(shown.group(1)) == _lines(_example_in(inspect.getsource(scenario)))


def _lines(code: str) -> list[str]:
    return [line for line in code.strip().splitlines() if line.strip()]
