"""The served API's callers for the tests driven by the OpenAPI document alone (the strict document, the
fuzz run, the generated client): a gateway on a fresh database, users and an administrator signed in
over HTTP, and the payment provider's signature."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from investment_system.schemas.users import EXAMPLE_PASSWORD
from investment_system.services.billing.webhooks import sign
from investment_system.settings import DEV_WEBHOOK_SECRET
from tests.support.gateway import INVEST, RunningGateway, invest_serve_command, migrated_api_environment

WEBHOOK_PATH = "/v1/billing/webhooks/payments"


class ServedApi:
    """`invest serve` on a fresh SQLite database under `workdir`; `settings` override the environment."""

    def __init__(self, workdir: Path, **settings: str) -> None:
        self.env = migrated_api_environment(workdir, PAYMENT_WEBHOOK_SECRET=DEV_WEBHOOK_SECRET, **settings)
        self.gateway = RunningGateway(invest_serve_command(), self.env)
        self.base_url = self.gateway.base_url

    def stop(self) -> int:
        return self.gateway.stop()

    def post(self, path: str, body: Any, **headers: str) -> requests.Response:
        return requests.post(self.url(path), json=body, headers=headers, timeout=30)

    def url(self, path: str) -> str:
        return self.gateway.url(path)

    def tokens(self, email: str, password: str = EXAMPLE_PASSWORD) -> dict[str, Any]:
        """A token pair of an existing account."""
        login = self.post("/v1/auth/login", {"email": email, "password": password})
        assert login.status_code == 200, login.text
        return dict(login.json())

    def new_user(self, prefix: str = "user") -> tuple[dict[str, Any], dict[str, Any]]:
        """A new account (the User body) with the document's example password, and a token pair of theirs."""
        email = f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"
        registered = self.post("/v1/auth/register", {"email": email, "password": EXAMPLE_PASSWORD})
        assert registered.status_code == 201, registered.text
        return registered.json(), self.tokens(email)

    def new_admin(self) -> dict[str, Any]:
        """A token pair of a new administrator, made as an operator makes one (`invest create-admin`)."""
        email = f"admin-{uuid.uuid4().hex[:12]}@example.com"
        subprocess.run(
            [str(INVEST), "create-admin", "--email", email],
            env={**self.env, "INVEST_ADMIN_PASSWORD": EXAMPLE_PASSWORD},
            check=True,
            capture_output=True,
        )
        return self.tokens(email)

    def new_admin_on_plan(self, plan: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """A new administrator (the User body) moved to `plan` as anyone is: a checkout the provider reports
        paid; and a token pair of theirs."""
        tokens = self.new_admin()
        me = requests.get(self.url("/v1/users/me"), headers=bearer(tokens), timeout=30).json()
        started = requests.put(
            self.url("/v1/billing/subscription"), json={"plan": plan}, headers=bearer(tokens), timeout=30
        )
        assert started.status_code == 202, started.text
        checkout = started.json()["checkout"]
        paid = {
            "checkout_id": checkout["id"],
            "amount_cents": checkout["amount_cents"],
            "currency": checkout["currency"],
        }
        delivered = self.deliver("invoice.paid", {"user_id": me["id"], **paid})
        assert delivered.json() == {"received": True, "applied": True}, delivered.text
        return me, tokens

    def deliver(self, event_type: str, data: dict[str, Any]) -> requests.Response:
        """The payment provider's event, signed as the provider signs it."""
        body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": event_type, "data": data}).encode()
        headers = {"Content-Type": "application/json", "X-Signature": provider_signature(body, int(time.time()))}
        return requests.post(self.url(WEBHOOK_PATH), data=body, headers=headers, timeout=30)


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def provider_signature(body: bytes, at: int) -> str:
    """The X-Signature the payment provider sends with `body` at the Unix time `at`."""
    return f"t={at},v1={sign(DEV_WEBHOOK_SECRET, at, body)}"
