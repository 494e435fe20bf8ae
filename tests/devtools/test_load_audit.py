"""The load run's audit: it passes on what the API really did, and fails on each broken promise.

The ledgers here are written by hand from real answers of the functions (on SQLite), then made to
lie in one way each: the audit must notice.
"""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import pytest

from invest_dev.load.audit import AuditResult, audit, availability
from invest_dev.load.report import write_results
from tests.support.signals import CREATE, buy_body, call, make_investor, set_row

OUTAGE = frozenset({"DATABASE_UNAVAILABLE"})


def request(t0: float, status: int, code: str | None = None) -> dict[str, Any]:
    return {"method": "POST", "name": "POST /v1/signals", "t0": t0, "t1": t0 + 0.05, "status": status, "code": code}


def window(down_at: float, up_at: float) -> dict[str, Any]:
    return {"what": "postgres", "down_at": down_at, "up_at": up_at}


def test_the_outages_503_inside_its_window_passes():
    facts = {"fault": [window(10, 20)], "request": [request(5, 201), request(12, 503, "DATABASE_UNAVAILABLE")]}
    assert availability(facts, OUTAGE).passed


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (request(12, 500, "INTERNAL_ERROR"), "a 500 during the outage"),
        (request(5, 503, "DATABASE_UNAVAILABLE"), "a 503 before the outage"),
        (request(22.5, 503, "DATABASE_UNAVAILABLE"), "a 503 more than 2 s after the server came back"),
        (request(12, 0), "no answer during the outage"),
        (request(30, 504), "a gateway timeout after it"),
    ],
)
def test_any_other_5xx_fails_availability(answer, why):
    facts = {"fault": [window(10, 20)], "request": [answer]}
    assert not availability(facts, OUTAGE).passed, why


def create_fact(investor_id: uuid.UUID, body: dict[str, Any], reply: Any, key: str | None = None) -> dict[str, Any]:
    acknowledged = reply.status in (200, 201)
    return {
        "user_id": str(investor_id),
        "nonce": body["notes"].rsplit(" ", 1)[-1],
        "key": key,
        "status": reply.status,
        "code": None if acknowledged else reply.json["error"]["code"],
        "retry_after": "Retry-After" in reply.headers,
        "replayed": reply.headers.get("Idempotent-Replayed") == "true",
        "signal": reply.json if acknowledged else None,
    }


@pytest.fixture
def ledger(sqlite_db) -> dict[str, list[dict[str, Any]]]:
    """Two real creates of one investor (one with a key, replayed once), as a client's ledger has them."""
    investor = make_investor()
    facts: dict[str, list[dict[str, Any]]] = {"user": [{"user_id": str(investor.user_id)}], "create": []}
    for nonce, key in (("n1", None), ("n2", "key-2"), ("n2", "key-2")):
        body = buy_body(notes=f"load run {nonce}")
        reply = call(CREATE, investor, json_body=body, headers={"Idempotency-Key": key} if key else None)
        facts["create"].append(create_fact(investor.user_id, body, reply, key))
    return facts


def run_audit(sqlite_db, facts: dict[str, list[dict[str, Any]]]) -> AuditResult:
    return audit(sqlite_db.engine, facts, OUTAGE)


def failed(result: AuditResult) -> list[str]:
    return [check.name for check in result.checks if not check.passed]


def test_the_audit_passes_on_what_the_api_did(sqlite_db, ledger):
    assert ledger["create"][2]["replayed"]
    assert failed(run_audit(sqlite_db, ledger)) == []


def test_an_acknowledged_signal_stored_with_other_values_fails(sqlite_db, ledger):
    set_row(ledger["create"][0]["signal"]["id"], entry_price="1.5")
    assert failed(run_audit(sqlite_db, ledger)) == ["every 201 signal exists exactly once with the acknowledged values"]


def test_an_acknowledged_signal_that_is_not_stored_fails(sqlite_db, ledger):
    told = copy.deepcopy(ledger)
    told["create"][0]["signal"]["id"] = str(uuid.uuid4())
    assert "every 201 signal exists exactly once with the acknowledged values" in failed(run_audit(sqlite_db, told))


def test_a_replay_naming_another_signal_fails(sqlite_db, ledger):
    told = copy.deepcopy(ledger)
    told["create"][2]["signal"]["id"] = ledger["create"][0]["signal"]["id"]
    assert failed(run_audit(sqlite_db, told)) == ["every idempotent replay points at the signal its key created"]


def test_a_signal_from_a_create_answered_503_with_retry_after_fails(sqlite_db, ledger):
    # Given the client was told "nothing was written, retry" for the create that made a row
    told = copy.deepcopy(ledger)
    told["create"][0] |= {"status": 503, "code": "DATABASE_UNAVAILABLE", "retry_after": True, "signal": None}
    assert failed(run_audit(sqlite_db, told)) == [
        "no signal from a create refused before its commit (4xx, or 503 with Retry-After)"
    ]


def test_a_usage_counter_that_differs_from_the_signals_fails(sqlite_db, ledger):
    from sqlalchemy import update

    from investment_system.models import DailyUsage

    with sqlite_db.engine.begin() as connection:
        connection.execute(update(DailyUsage).values(signals_created=DailyUsage.signals_created + 1))
    assert failed(run_audit(sqlite_db, ledger)) == ["usage counters equal the creates they counted"]


def test_a_closed_signal_without_its_audit_row_fails(sqlite_db, ledger):
    set_row(ledger["create"][0]["signal"]["id"], status="CLOSED")
    assert failed(run_audit(sqlite_db, ledger)) == ["every signal change has its audit row"]


def test_a_run_rewrites_its_own_section_of_the_results_and_keeps_the_others(tmp_path: Path):
    page = tmp_path / "load-results.md"
    write_results("sqlite", "## sqlite: first", page)
    write_results("postgres", "## postgres: only", page)
    write_results("sqlite", "## sqlite: second", page)
    text = page.read_text()
    assert "## sqlite: second" in text
    assert "## sqlite: first" not in text
    assert text.index("## sqlite: second") < text.index("## postgres: only")
