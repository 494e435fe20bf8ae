"""The real-time stream over `invest serve`: a real WebSocket client against the local gateway, and the
live view in headless Chromium.

Each sentence of the contract's stream section, as a client sees it: tickets and handshake refusals,
ping/pong and error frames, live events within a second, replay after a disconnect, ordering under
concurrent changes, and the per-user connection limit. The gateway runs the template's functions on a
migrated SQLite database; its Management API and Lambda Invoke emulation carry the pushes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, update
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from invest_dev.scratch_db import create_database, drop_database
from investment_system.db.base import utcnow
from investment_system.models import StreamTicket
from tests.support.databases import BACKENDS, SERVER_URLS, _backend_params
from tests.support.gateway import INVEST, RunningGateway, invest_serve_command, migrated_api_environment

pytestmark = pytest.mark.slow
PASSWORD = "Plum-Orchard-Ledger-42x"
NEW_PASSWORD = "Copper-Meadow-Signal-93y"
ADMIN = "root@example.com"
SIGNAL = {"symbol": "AAPL", "direction": "BUY", "confidence": 0.5, "entry_price": "100", "timeframe": "1h"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    workdir = tmp_path_factory.mktemp("stream-gateway")
    with _serving(workdir, f"sqlite:///{workdir / 'api.db'}") as running:
        running.database = workdir / "api.db"  # type: ignore[attr-defined]
        yield running


@pytest.fixture(scope="module")
def postgres_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """The same on a PostgreSQL database of its own."""
    url = create_database(SERVER_URLS["postgres"], f"invest_stream_{uuid.uuid4().hex[:10]}")
    try:
        with _serving(tmp_path_factory.mktemp("stream-gateway-postgres"), url) as running:
            yield running
    finally:
        drop_database(SERVER_URLS["postgres"], url)


@contextmanager
def _serving(workdir: Path, database_url: str) -> Iterator[RunningGateway]:
    """`invest serve` on a migrated database with an administrator; a rotated refresh token presented
    again is reuse at once (no grace period)."""
    env = migrated_api_environment(
        workdir, DATABASE_URL=database_url, INVEST_ADMIN_PASSWORD=PASSWORD, REFRESH_REUSE_GRACE_SECONDS="0"
    )
    subprocess.run([str(INVEST), "create-admin", "--email", ADMIN], env=env, check=True, capture_output=True)
    running = RunningGateway(invest_serve_command(), env)
    try:
        _wait_until_warm(running)
        yield running
    finally:
        running.stop()


def _wait_until_warm(gateway: RunningGateway, timeout: float = 240.0) -> None:
    """Containers warm in the background, all at once on a small machine: one round trip through every
    function the tests use, however slow, before the timed tests run."""
    deadline = time.monotonic() + timeout
    while not _answers(gateway):
        assert time.monotonic() < deadline, "the gateway never answered"
        time.sleep(1)
    client = Client(gateway)
    with client.open() as stream:
        stream.send(json.dumps({"action": "ping"}))
        assert _next(stream, timeout=timeout) == {"type": "pong"}
        client.update(client.create()["id"], "warm")
        assert [_next(stream, timeout=timeout)["id"] for _ in range(2)] == ["1", "2"]


def _answers(gateway: RunningGateway) -> bool:
    try:
        return gateway.get("/v1/health").status_code == 200
    except requests.RequestException:
        return False


class Client:
    """A signed-up investor talking to the gateway over HTTP."""

    def __init__(self, gateway: RunningGateway) -> None:
        self.gateway = gateway
        email = f"stream-{uuid.uuid4().hex[:10]}@example.com"
        registered = requests.post(
            gateway.url("/v1/auth/register"), json={"email": email, "password": PASSWORD}, timeout=30
        )
        assert registered.status_code == 201, registered.text
        self.id = str(registered.json()["id"])
        self.email = email
        self.sign_in()

    def sign_in(self, password: str = PASSWORD) -> dict:
        """A new session: its token pair, whose access token the client uses from now on."""
        login = requests.post(
            self.gateway.url("/v1/auth/login"), json={"email": self.email, "password": password}, timeout=30
        )
        assert login.status_code == 200, login.text
        self.tokens = dict(login.json())
        self.token = self.tokens["access_token"]
        self.headers = {"Authorization": f"Bearer {self.token}"}
        return self.tokens

    def ticket(self) -> str:
        reply = requests.post(self.gateway.url("/v1/stream/tickets"), headers=self.headers, timeout=30)
        assert reply.status_code == 201, reply.text
        assert reply.json()["expires_in"] == 60
        return str(reply.json()["ticket"])

    def stream_url(self, ticket: str | None, **query: str) -> str:
        parameters = ({"ticket": ticket} if ticket is not None else {}) | query
        return (
            self.gateway.base_url.replace("http://", "ws://")
            + "/v1/stream?"
            + "&".join(f"{name}={value}" for name, value in parameters.items())
        )

    def open(self, **query: str) -> ClientConnection:
        return connect(self.stream_url(self.ticket(), **query), open_timeout=30)

    def create(self) -> dict:
        reply = requests.post(self.gateway.url("/v1/signals"), headers=self.headers, json=SIGNAL, timeout=30)
        assert reply.status_code == 201, reply.text
        return dict(reply.json())

    def update(self, signal_id: str, notes: str) -> None:
        url = self.gateway.url(f"/v1/signals/{signal_id}")
        reply = requests.patch(url, headers=self.headers, json={"notes": notes}, timeout=30)
        assert reply.status_code == 200, reply.text


def _next(stream: ClientConnection, timeout: float = 15.0) -> dict:
    return dict(json.loads(stream.recv(timeout=timeout)))


def _refusal(url: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=30)
    return refused.value.response.status_code


def test_a_handshake_without_a_good_ticket_is_refused_with_401(gateway):
    # Given an investor, a ticket already used, an expired one, and a ticket issued to no one
    client = Client(gateway)
    used = client.ticket()
    with connect(client.stream_url(used), open_timeout=30):
        pass
    expired = client.ticket()
    engine = create_engine(f"sqlite:///{gateway.database}")
    with engine.begin() as connection:
        connection.execute(update(StreamTicket).values(expires_at=utcnow() - timedelta(seconds=1)))
    engine.dispose()
    forged = used[:-4] + ("AAAA" if not used.endswith("AAAA") else "BBBB")
    # Then each is refused at the handshake with 401: no ticket, a forged one, a used one, an expired one,
    # and a foreign credential (the investor's access token is not a ticket)
    for url in (
        client.stream_url(None),
        client.stream_url(forged),
        client.stream_url(used),
        client.stream_url(expired),
        client.stream_url(client.token),
    ):
        assert _refusal(url) == 401, url


def test_ping_gets_pong_and_anything_else_an_error_frame(gateway):
    client = Client(gateway)
    with client.open() as stream:
        stream.send(json.dumps({"action": "ping"}))
        assert _next(stream) == {"type": "pong"}
        stream.send(json.dumps({"action": "shout"}))
        error = _next(stream)
        assert (error["type"], error["code"]) == ("error", "UNSUPPORTED_MESSAGE")
        assert error["message"]
        stream.send("hello")
        assert _next(stream)["code"] == "MALFORMED_MESSAGE"


def test_a_created_signal_arrives_within_a_second(gateway):
    client = Client(gateway)
    with client.open() as stream:
        started = time.monotonic()
        signal = client.create()
        event = _next(stream, timeout=5.0)
        assert time.monotonic() - started < 1.0
    assert (event["type"], event["id"], event["data"]) == ("signal.created", "1", signal)
    assert event["at"].endswith("Z")


def test_a_reconnect_with_last_event_id_gets_what_happened_while_away(gateway):
    # Given a stream that saw the first event, then closed while three changes happened
    client = Client(gateway)
    with client.open() as stream:
        signal = client.create()
        seen = _next(stream)["id"]
    for notes in ("one", "two", "three"):
        client.update(signal["id"], notes)
    # When the client reconnects with the last id it saw
    with client.open(last_event_id=seen) as stream:
        replayed = [_next(stream) for _ in range(3)]
        # And one more change happens
        client.update(signal["id"], "four")
        live = _next(stream)
    # Then it gets the three it missed, oldest first, before the live one
    assert [(e["id"], e["data"]["notes"]) for e in replayed] == [("2", "one"), ("3", "two"), ("4", "three")]
    assert (live["id"], live["data"]["notes"]) == ("5", "four")


def test_events_of_concurrent_changes_arrive_in_order(gateway):
    # Given an investor with five signals and an open stream
    client = Client(gateway)
    with client.open() as stream:
        signals = [client.create()["id"] for _ in range(5)]
        assert [int(_next(stream)["id"]) for _ in signals] == [1, 2, 3, 4, 5]
        # When 20 changes are made at once
        with ThreadPoolExecutor(10) as pool:
            list(pool.map(lambda n: client.update(signals[n % 5], f"change {n}"), range(20)))
        events = [_next(stream, timeout=10) for _ in range(20)]
    # Then each arrives once, in the order of their ids, with nothing missing
    assert [int(event["id"]) for event in events] == list(range(6, 26))
    assert sorted(event["data"]["notes"] for event in events) == sorted(f"change {n}" for n in range(20))


def test_a_sixth_connection_closes_the_first_with_4008(gateway):
    client = Client(gateway)
    with ExitStack() as opened:
        streams = [opened.enter_context(client.open()) for _ in range(6)]
        # The first connection is told why, then closed with 4008
        assert _next(streams[0])["code"] == "CONNECTION_LIMIT_EXCEEDED"
        with pytest.raises(ConnectionClosed) as closed:
            streams[0].recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4008
        # And the five others still get events
        client.create()
        for stream in streams[1:]:
            assert _next(stream)["type"] == "signal.created"


def _post(gateway: RunningGateway, path: str, token: str, body: dict) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.post(gateway.url(path), headers=headers, json=body, timeout=30)


def _as_admin(gateway: RunningGateway, client: Client, change: dict) -> None:
    login = requests.post(gateway.url("/v1/auth/login"), json={"email": ADMIN, "password": PASSWORD}, timeout=30)
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    reply = requests.patch(gateway.url(f"/v1/admin/users/{client.id}"), headers=headers, json=change, timeout=30)
    assert reply.status_code == 200, reply.text


def _logout(gateway: RunningGateway, client: Client, ending: dict) -> None:
    reply = _post(gateway, "/v1/auth/logout", ending["access_token"], {"refresh_token": ending["refresh_token"]})
    assert reply.status_code == 204, reply.text


def _reuse_refresh_token(gateway: RunningGateway, client: Client, ending: dict) -> None:
    body = {"refresh_token": ending["refresh_token"]}
    rotated = requests.post(gateway.url("/v1/auth/refresh"), json=body, timeout=30)
    assert rotated.status_code == 200, rotated.text
    reused = requests.post(gateway.url("/v1/auth/refresh"), json=body, timeout=30)
    assert reused.json()["error"]["code"] == "TOKEN_REVOKED"


def _change_password(gateway: RunningGateway, client: Client, ending: dict) -> None:
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert _post(gateway, "/v1/users/me/password", ending["access_token"], body).status_code == 204


# The ending, the error frame the stream gets, and the password to sign in with afterwards (None: cannot)
GATEWAY_ENDINGS = {
    "logout": (_logout, "TOKEN_REVOKED", PASSWORD),
    "refresh token reuse": (_reuse_refresh_token, "TOKEN_REVOKED", PASSWORD),
    "password change": (_change_password, "TOKEN_REVOKED", NEW_PASSWORD),
    "deactivation": (lambda g, c, e: _as_admin(g, c, {"is_active": False}), "ACCOUNT_DISABLED", None),
    "role change": (lambda g, c, e: _as_admin(g, c, {"role": "admin"}), "TOKEN_REVOKED", PASSWORD),
}


@pytest.fixture(params=_backend_params([backend for backend in BACKENDS if backend in ("sqlite", "postgres")]))
def any_gateway(request: pytest.FixtureRequest) -> RunningGateway:
    """The gateway on SQLite, and on PostgreSQL."""
    return request.getfixturevalue("gateway" if request.param == "sqlite" else "postgres_gateway")


@pytest.mark.parametrize("ending", GATEWAY_ENDINGS)
def test_an_ending_session_closes_its_stream_with_4001_and_its_tickets_stop_working(any_gateway, ending):
    end, code, password = GATEWAY_ENDINGS[ending]
    # Given an investor's open stream and an unused ticket of the same session
    client = Client(any_gateway)
    session = client.tokens
    unused = client.ticket()
    with client.open() as stream:
        client.create()
        assert _next(stream)["type"] == "signal.created"
        # When the session ends, and the investor, signed in again, changes a signal at once
        started = time.monotonic()
        end(any_gateway, client, session)
        if password is not None:
            client.sign_in(password)
            client.create()
        # Then the stream gets its last error frame, nothing after it, and is closed with 4001 within 5 s
        frame = _next(stream, timeout=5)
        assert (frame["type"], frame["code"]) == ("error", code)
        with pytest.raises(ConnectionClosed) as closed:
            stream.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4001
        assert time.monotonic() - started < 5
    # And the ticket minted before the end is refused at the handshake
    assert _refusal(client.stream_url(unused)) == 401


def test_the_stream_is_served_where_the_contract_says(gateway):
    assert any("stream: ws://" in line and line.endswith("/v1/stream") for line in gateway.stderr)


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


class Browser:
    """A page of Chromium, driven over the DevTools protocol (a WebSocket of its own)."""

    def __init__(self, devtools: ClientConnection) -> None:
        self.devtools = devtools
        self._id = 0

    def evaluate(self, expression: str) -> object:
        self._id += 1
        self.devtools.send(json.dumps({"id": self._id, "method": "Runtime.evaluate", "params": {
            "expression": expression, "returnByValue": True, "awaitPromise": True}}))  # fmt: skip
        while True:
            reply = json.loads(self.devtools.recv(timeout=30))
            if reply.get("id") == self._id:
                return reply["result"]["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 15.0) -> object:
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            assert time.monotonic() < deadline, f"never true in the page: {expression}"
            time.sleep(0.1)


@contextmanager
def chromium(url: str, profile: Path) -> Iterator[Browser]:
    """Debian's Chromium, headless, showing `url`."""
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is required: run devtools/ensure-services"
    flags = [*CHROMIUM_FLAGS, "--remote-debugging-port=0", f"--user-data-dir={profile}"]
    process = subprocess.Popen([executable, *flags, url], stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.is_file() or len(port_file.read_text().split()) < 2:
            assert time.monotonic() < deadline, "Chromium opened no DevTools port"
            time.sleep(0.1)
        targets = requests.get(f"http://127.0.0.1:{port_file.read_text().split()[0]}/json/list", timeout=10).json()
        page = next(target for target in targets if target["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], open_timeout=30, max_size=None) as devtools:
            yield Browser(devtools)
    finally:
        process.terminate()
        process.wait(30)


@pytest.mark.browser
def test_the_live_view_shows_a_signal_created_over_http(gateway, tmp_path):
    # Given an investor, and the live view open in Chromium
    client = Client(gateway)
    email = requests.get(gateway.url("/v1/users/me"), headers=client.headers, timeout=30).json()["email"]
    with chromium(gateway.url("/v1/docs/live"), tmp_path / "profile") as browser:
        browser.wait_for("document.readyState === 'complete' && !!document.getElementById('login')")
        # When the page signs in as the investor and opens the stream
        browser.evaluate(
            f"document.querySelector('[name=email]').value = {json.dumps(email)};"
            f"document.querySelector('[name=password]').value = {json.dumps(PASSWORD)};"
            "document.getElementById('login').requestSubmit();"
        )
        browser.wait_for("document.getElementById('status').textContent === 'live'")
        # And a signal is created over HTTP
        signal = client.create()
        # Then the page shows it, as the stream delivered it
        row = browser.wait_for(f"document.getElementById('signal-{signal['id']}')?.textContent", timeout=5)
    assert "signal.created" in str(row)
    assert signal["symbol"] in str(row)
