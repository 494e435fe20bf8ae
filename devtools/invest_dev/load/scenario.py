"""The load run's Locust scenario: investors using the API at once, each the way a client would.

Each registers, logs in, then creates signals (some with an Idempotency-Key, some replayed), pages,
reads, closes, reads analytics and usage, refreshes, and buys `pro` when the free quota runs out,
paying the checkout with a signed webhook; a 503 with Retry-After is sent again after it. Everything
the clients were told goes to the ledger. Run by `python -m invest_dev.load`, or alone with locust
(docs/load-testing.md#the-code).
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from locust import HttpUser, between, events, task

from invest_dev.load.ledger import Ledger
from investment_system.services.billing.webhooks import sign

LEDGER = Ledger(Path(os.environ.get("LOAD_LEDGER", ".local/load/ledger.jsonl")))
RUN_ID = os.environ.get("LOAD_RUN_ID", uuid.uuid4().hex[:8])
WEBHOOK_SECRET = os.environ.get("PAYMENT_WEBHOOK_SECRET")
PASSWORD = "Quartz-Harbor-Lantern-57"  # noqa: S105 (the simulated investors' own, on a test stage)
SYMBOLS = ("AAPL", "MSFT", "NVDA", "BTC-USD", "ETH-USD", "EURUSD", "TSLA", "AMZN")
TIMEFRAMES = ("5m", "15m", "1h", "4h", "1d")
STRATEGIES = ("breakout", "mean-reversion", "momentum", None)
MAX_RETRY_AFTER_SECONDS = 5


def error_code(response: Any) -> str | None:
    if response is None or response.status_code < 400:
        return None
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None  # not the API's envelope (a proxy's or the gateway's own answer)


@events.request.add_listener
def _record_request(
    request_type: str,
    name: str,
    response_time: float,
    response: Any = None,
    start_time: float | None = None,
    **_: Any,
) -> None:
    started = start_time if start_time is not None else time.time() - response_time / 1000
    LEDGER.write(
        "request",
        method=request_type,
        name=name,
        t0=started,
        t1=started + response_time / 1000,
        status=getattr(response, "status_code", 0) or 0,
        code=error_code(response),
        retry_after="Retry-After" in getattr(response, "headers", {}),
    )


def signal_body(nonce: str) -> dict[str, Any]:
    """A valid signal: BUY needs stop < entry < target, SELL the reverse."""
    entry = Decimal(random.randint(1_000, 500_000)) / 100
    direction = random.choice(("BUY", "SELL"))
    up, down = entry * Decimal("1.05"), entry * Decimal("0.95")
    target, stop = (up, down) if direction == "BUY" else (down, up)
    return {
        "symbol": random.choice(SYMBOLS),
        "direction": direction,
        "confidence": str(Decimal(random.randint(0, 100)) / 100),
        "entry_price": str(entry),
        "target_price": str(target.quantize(Decimal("0.01"))),
        "stop_loss": str(stop.quantize(Decimal("0.01"))),
        "timeframe": random.choice(TIMEFRAMES),
        "strategy": random.choice(STRATEGIES),
        "notes": f"load {RUN_ID} {nonce}",
    }


class Investor(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.email = f"load-{RUN_ID}-{uuid.uuid4().hex[:12]}@example.com"
        self.user_id = ""
        self.access = self.refresh_token = ""
        self.open_signals: list[str] = []
        self.known_signals: list[str] = []
        self.sent: list[tuple[str | None, dict[str, Any]]] = []  # (key, body) of creates, to send again
        self.plan = "free"
        while not self.user_id:
            response = self.client.post(
                "/v1/auth/register", json={"email": self.email, "password": PASSWORD}, name="POST /v1/auth/register"
            )
            if response.status_code == 201:
                self.user_id = response.json()["id"]
                LEDGER.write("user", user_id=self.user_id, email=self.email)
            elif response.status_code == 409:  # registered by an attempt whose answer was lost
                break
            else:
                self.pause(response)
        self.login()

    def pause(self, response: Any) -> None:
        """Wait as long as the API asked (Retry-After), or a second."""
        try:
            delay = int(response.headers.get("Retry-After", "1"))
        except ValueError:
            delay = 1
        time.sleep(min(max(delay, 1), MAX_RETRY_AFTER_SECONDS))

    def login(self) -> None:
        response = self.client.post(
            "/v1/auth/login", json={"email": self.email, "password": PASSWORD}, name="POST /v1/auth/login"
        )
        if response.status_code == 200:
            self.tokens(response.json())
            if not self.user_id:
                me = self.client.get("/v1/users/me", headers=self.auth, name="GET /v1/users/me")
                if me.status_code == 200:
                    self.user_id = me.json()["id"]
                    LEDGER.write("user", user_id=self.user_id, email=self.email)

    def tokens(self, pair: dict[str, Any]) -> None:
        self.access, self.refresh_token = pair["access_token"], pair["refresh_token"]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}

    def signed_in(self) -> bool:
        if not self.access:
            self.login()
        return bool(self.access)

    def answered(self, response: Any) -> bool:
        """True for a 2xx; a 401 drops the tokens (the next action logs in again)."""
        if response.status_code == 401:
            self.access = ""
        status: int = response.status_code
        return 200 <= status < 300

    # Signals

    @task(8)
    def create_signal(self) -> None:
        if not self.signed_in():
            return
        nonce = uuid.uuid4().hex
        key = nonce if random.random() < 0.5 else None
        self.send_create(key, signal_body(nonce))

    @task(1)
    def send_a_create_again(self) -> None:
        """A client that did not see its answer sends the same request again, with its key."""
        keyed = [(key, body) for key, body in self.sent if key is not None]
        if keyed and self.signed_in():
            self.send_create(*random.choice(keyed))

    def send_create(self, key: str | None, body: dict[str, Any]) -> None:
        headers = {**self.auth, **({"Idempotency-Key": key} if key else {})}
        for attempt in range(2):
            response = self.client.post("/v1/signals", json=body, headers=headers, name="POST /v1/signals")
            self.record_create(key, body, response)
            if response.status_code in (200, 201):
                break
            if response.status_code == 429 and error_code(response) == "QUOTA_EXCEEDED":
                self.buy_pro()
            if not (response.status_code == 503 and "Retry-After" in response.headers) or attempt:
                break
            self.pause(response)  # nothing was written: safe to send again, with the same key

    def record_create(self, key: str | None, body: dict[str, Any], response: Any) -> None:
        acknowledged = response.status_code in (200, 201)
        signal = response.json() if acknowledged else None
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        LEDGER.write(
            "create",
            user_id=self.user_id,
            nonce=body["notes"].rsplit(" ", 1)[-1],
            key=key,
            status=response.status_code,
            code=error_code(response),
            retry_after="Retry-After" in response.headers,
            replayed=replayed,
            signal=signal,
        )
        self.answered(response)
        if signal is not None and not replayed:
            self.sent.append((key, body))
            self.open_signals.append(signal["id"])
            self.known_signals.append(signal["id"])

    @task(4)
    def list_signals(self) -> None:
        if not self.signed_in():
            return
        params: dict[str, Any] = {"limit": random.choice((5, 10, 20))}
        if random.random() < 0.3:
            params["status"] = "OPEN"
        for _ in range(3):  # up to three pages
            response = self.client.get("/v1/signals", params=params, headers=self.auth, name="GET /v1/signals")
            if not self.answered(response) or not response.json()["next_cursor"]:
                return
            params["cursor"] = response.json()["next_cursor"]

    @task(3)
    def get_signal(self) -> None:
        if self.known_signals and self.signed_in():
            signal_id = random.choice(self.known_signals)
            response = self.client.get(f"/v1/signals/{signal_id}", headers=self.auth, name="GET /v1/signals/{id}")
            self.answered(response)

    @task(2)
    def close_signal(self) -> None:
        if not self.open_signals or not self.signed_in():
            return
        signal_id = self.open_signals.pop(random.randrange(len(self.open_signals)))
        exit_price = str(Decimal(random.randint(1_000, 500_000)) / 100)
        response = self.client.post(
            f"/v1/signals/{signal_id}/close",
            json={"exit_price": exit_price},
            headers=self.auth,
            name="POST /v1/signals/{id}/close",
        )
        if self.answered(response):
            LEDGER.write("close", user_id=self.user_id, signal_id=signal_id, exit_price=exit_price)
        elif response.status_code >= 500:
            self.open_signals.append(signal_id)  # try again later

    @task(1)
    def analytics(self) -> None:
        if self.signed_in():
            self.answered(self.client.get("/v1/signals/analytics", headers=self.auth, name="GET /v1/signals/analytics"))

    # Account and billing

    @task(2)
    def usage(self) -> None:
        if self.signed_in():
            self.answered(self.client.get("/v1/billing/usage", headers=self.auth, name="GET /v1/billing/usage"))

    @task(1)
    def refresh(self) -> None:
        if not self.refresh_token:
            return
        response = self.client.post(
            "/v1/auth/refresh", json={"refresh_token": self.refresh_token}, name="POST /v1/auth/refresh"
        )
        if response.status_code == 200:
            self.tokens(response.json())

    @task(1)
    def log_in_again(self) -> None:
        if random.random() < 0.3:
            self.login()

    def buy_pro(self) -> None:
        """The quota ran out: buy `pro`, paid through the provider's signed webhook."""
        if self.plan != "free" or not self.user_id:
            return
        response = self.client.put(
            "/v1/billing/subscription",
            json={"plan": "pro"},
            headers={**self.auth, "Idempotency-Key": f"upgrade-{self.user_id}"},
            name="PUT /v1/billing/subscription",
        )
        if response.status_code == 200:  # an API that grants the plan at once
            self.plan = "pro"
            LEDGER.write("paid", user_id=self.user_id, plan="pro", checkout_id=None, status=200, applied=True)
        elif response.status_code == 202 and WEBHOOK_SECRET:
            self.pay(response.json()["checkout"])

    def pay(self, checkout: dict[str, Any]) -> None:
        """The provider's invoice.paid for the checkout, paid in full (its amount, in its currency)."""
        checkout_id = checkout["id"]
        paid = {"checkout_id": checkout_id, "amount_cents": checkout["amount_cents"], "currency": checkout["currency"]}
        event = {
            "id": f"evt_load_{uuid.uuid4().hex}",
            "type": "invoice.paid",
            "data": {"user_id": self.user_id, "plan": "pro", **paid},
        }
        body = json.dumps(event).encode()
        now = int(time.time())
        signature = f"t={now},v1={sign(str(WEBHOOK_SECRET), now, body)}"
        response = self.client.post(
            "/v1/billing/webhooks/payments",
            data=body,
            headers={"Content-Type": "application/json", "X-Signature": signature},
            name="POST /v1/billing/webhooks/payments",
        )
        applied = response.status_code == 200 and response.json()["applied"]
        LEDGER.write(
            "paid",
            user_id=self.user_id,
            plan="pro",
            checkout_id=checkout_id,
            status=response.status_code,
            applied=applied,
        )
        if applied:
            self.plan = "pro"
