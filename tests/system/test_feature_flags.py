"""Feature flags: the maintenance switch and registration, read from the flags' store by the functions."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from invest_dev.samples import session_tokens
from investment_system.services.system import feature_flags
from tests.support.accounts import register, signed_up_admin
from tests.support.billing import deliver, payment_event, put_on_plan
from tests.support.functions import invoke
from tests.support.signals import CREATE, LIST, Investor, buy_body, call, make_investor

MAINTENANCE_ON = {"maintenance": {"default": True}}
FREE_PLAN_IN_MAINTENANCE = {
    "maintenance": {
        "default": False,
        "rules": {
            "free plan": {"when_match": True, "conditions": [{"action": "EQUALS", "key": "plan", "value": "free"}]}
        },
    }
}

type WriteFlags = Callable[[Any], None]


@pytest.fixture
def flags(tmp_path: Path, settings_env: pytest.MonkeyPatch) -> Iterator[WriteFlags]:
    """The flags' local file (FEATURE_FLAGS_FILE), as `invest serve` reads it; the container's flags made anew."""
    path = tmp_path / "feature-flags.json"
    settings_env.setenv("FEATURE_FLAGS_FILE", str(path))
    settings_env.setenv("FEATURE_FLAGS_MAX_AGE_SECONDS", "0")
    versions = iter(range(1, 1_000))

    def write(document: Any) -> None:
        path.write_text(document if isinstance(document, str) else json.dumps(document))
        # A new modification time each write, even within the file system's clock resolution.
        stamp = 1_700_000_000 + next(versions)
        os.utime(path, (stamp, stamp))

    feature_flags._feature_flags.cache_clear()
    yield write
    feature_flags._feature_flags.cache_clear()


def health() -> dict[str, Any]:
    reply = invoke("HealthFunction", "GET", "/v1/health")
    assert reply.status == 200, reply.text
    return reply.json


def test_maintenance_refuses_writes_and_lets_reads_admins_and_the_webhook_through(db, flags):
    # Given an investor, an administrator, and maintenance switched on in the flags' store
    investor = make_investor()
    _, admin_tokens = signed_up_admin()
    as_admin = {"Authorization": f"Bearer {admin_tokens['access_token']}"}
    flags(MAINTENANCE_ON)

    # When the investor writes, then reads; the admin writes; the payment provider delivers an event
    refused = call(CREATE, investor, json_body=buy_body())
    listed = call(LIST, investor)
    by_admin = call(CREATE, None, json_body=buy_body(), headers=as_admin)
    delivered = deliver(payment_event("invoice.payment_failed", investor.user_id))

    # Then only the investor's write is refused, 503 MAINTENANCE_MODE with Retry-After
    assert refused.status == 503, refused.text
    assert refused.json["error"]["code"] == "MAINTENANCE_MODE"
    assert int(refused.headers["Retry-After"]) > 0
    assert listed.status == 200, listed.text
    assert by_admin.status == 201, by_admin.text
    assert delivered.status == 200, delivered.text
    # And health says the API is degraded, in maintenance
    report = health()
    assert (report["status"], report["maintenance"]) == ("degraded", True)


def test_maintenance_switched_off_again_lets_writes_through_on_the_next_request(db, flags):
    # Given maintenance on, and an investor refused
    investor = make_investor()
    flags(MAINTENANCE_ON)
    assert call(CREATE, investor, json_body=buy_body()).status == 503

    # When the flag is switched off in the store (no deploy, no restart)
    flags({"maintenance": {"default": False}})

    # Then the next write goes through and health is healthy again
    assert call(CREATE, investor, json_body=buy_body()).status == 201
    assert (health()["status"], health()["maintenance"]) == ("healthy", False)


def test_maintenance_rules_match_the_callers_plan(db, flags):
    # Given maintenance for the free plan only, a free investor and one who paid for pro (tokens issued after)
    free, paying = make_investor("free"), make_investor("pro")
    put_on_plan(paying, "pro")
    paying = signed_in_again(paying)
    flags(FREE_PLAN_IN_MAINTENANCE)

    # When both write
    # Then the free investor is refused and the pro one is not
    assert call(CREATE, free, json_body=buy_body()).json["error"]["code"] == "MAINTENANCE_MODE"
    assert call(CREATE, paying, json_body=buy_body()).status == 201


def signed_in_again(investor: Investor) -> Investor:
    """The investor with a token of a new login (the plan it carries is the one in force now)."""
    return Investor(user_id=investor.user_id, token=session_tokens(investor.user_id).access_token)


def test_registration_closed_refuses_sign_ups_and_opens_again(db, flags):
    # Given registration switched off
    flags({"registration_open": {"default": False}})

    # When someone signs up
    closed = register("late@example.com")

    # Then 403 REGISTRATION_CLOSED, and no account exists; switched on again, the sign-up succeeds
    assert closed.status == 403, closed.text
    assert closed.json["error"]["code"] == "REGISTRATION_CLOSED"
    flags({"registration_open": {"default": True}})
    assert register("late@example.com").status == 201


def test_registration_is_open_by_default(db):
    assert register("early@example.com").status == 201


def test_an_unreadable_store_keeps_the_last_good_flags_and_is_logged(db, flags, json_logs):
    # Given maintenance on, read once
    investor = make_investor()
    flags(MAINTENANCE_ON)
    assert call(CREATE, investor, json_body=buy_body()).status == 503

    # When the document becomes unreadable: not JSON, then JSON that Powertools' schema refuses
    flags("{not json")
    broken = call(CREATE, investor, json_body=buy_body())
    flags({"maintenance": {"default": "yes"}})
    refused_schema = call(CREATE, investor, json_body=buy_body())

    # Then the last good value holds (still maintenance), never a 5xx of the flags, and the failure is logged
    assert (broken.status, broken.json["error"]["code"]) == (503, "MAINTENANCE_MODE")
    assert (refused_schema.status, refused_schema.json["error"]["code"]) == (503, "MAINTENANCE_MODE")
    unreadable = [line for line in json_logs() if line["message"].startswith("Feature flags unreadable")]
    assert [line["error_type"] for line in unreadable] == ["ConfigurationStoreError", "SchemaValidationError"]


def test_an_unreadable_store_on_a_cold_start_gives_the_defaults(db, flags, json_logs):
    # Given a container whose first read of the flags finds no readable document
    investor = make_investor()
    flags("[]")

    # When an investor writes and someone signs up
    written = call(CREATE, investor, json_body=buy_body())
    signed = register("cold@example.com")

    # Then the defaults hold (no maintenance, registration open), and the failure is logged
    assert (written.status, signed.status) == (201, 201)
    assert health()["maintenance"] is False
    assert any(line["message"].startswith("Feature flags unreadable") for line in json_logs())
