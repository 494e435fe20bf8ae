"""Accounts scenarios: login and password change with the default (OWASP) argon2 parameters.

The bench runs with real argon2 settings, so these are the latencies a 256 MB function pays per
verification. The unknown-email row shows the dummy verification at work: it should cost what a
wrong password costs, so response time does not tell which emails are registered.
"""

from __future__ import annotations

import json
from typing import Any

from invest_dev.bench.measure import measure
from invest_dev.bench.prepare import fresh_account
from invest_dev.bench.scenarios import BenchContext, ScenarioResult, scenario
from invest_dev.samples import SAMPLE_PASSWORD

# Each verification is slow by design (argon2): a hundred give stable percentiles in seconds, not minutes.
MAX_LOGINS = 100


def _login_event(ctx: BenchContext, email: str, password: str) -> dict[str, Any]:
    event: dict[str, Any] = ctx.event("LoginFunction")
    event["body"] = json.dumps({"email": email, "password": password})
    return event


def _expect(reply: Any, status: int) -> None:
    if reply["statusCode"] != status:
        raise RuntimeError(f"expected {status}, got {reply['statusCode']}: {reply.get('body')}")


@scenario
def login_latency(ctx: BenchContext) -> list[ScenarioResult]:
    from investment_system.settings import get_settings

    security = get_settings().security
    params = f"m={security.argon2_memory_kib} KiB, t={security.argon2_time_cost}, p={security.argon2_parallelism}"
    _, email = fresh_account("login")  # of its own: the wrong passwords below must not lock a sample account
    right = _login_event(ctx, email, SAMPLE_PASSWORD)
    unknown = _login_event(ctx, "nobody-here@example.com", SAMPLE_PASSWORD)
    wrong = _login_event(ctx, email, SAMPLE_PASSWORD + "-wrong")
    ctx.invoke("LoginFunction", right)  # warm the container
    n = min(ctx.iterations, MAX_LOGINS)
    results = [
        ScenarioResult(
            "POST /v1/auth/login, right password (argon2 defaults)",
            measure(lambda: _expect(ctx.invoke("LoginFunction", right), 200), n),
            params,
        ),
        ScenarioResult(
            "POST /v1/auth/login, unknown email (dummy verification)",
            measure(lambda: _expect(ctx.invoke("LoginFunction", unknown), 401), n),
            "same answer and cost as a wrong password",
        ),
    ]
    # Wrong passwords lock the account after LOCKOUT_THRESHOLD; a right one in between clears the count.
    wrong_ms: list[float] = []
    for _ in range(n):
        wrong_ms += measure(lambda: _expect(ctx.invoke("LoginFunction", wrong), 401), 1)
        _expect(ctx.invoke("LoginFunction", right), 200)
    results.append(ScenarioResult("POST /v1/auth/login, wrong password", wrong_ms, "counted towards the lockout"))
    return results
