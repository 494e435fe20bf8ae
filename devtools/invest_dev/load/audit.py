"""The audit after a load run: the database, read directly, against what the clients were told.

Each check is one claim a client may rely on (acknowledged signals stored once, replays, nothing
unacknowledged written, usage counters, quotas and plans, the audit trail, availability outside and
inside fault windows); the run fails when any does not hold. The table of checks is in
docs/load-testing.md#the-audit.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from investment_system.models import AuditEvent, DailyUsage, PaymentEvent, Plan, Signal, Subscription

RECOVERY_SECONDS = 2.0
# Values a 201 acknowledges that never change afterwards.
IMMUTABLE_FIELDS = (
    "user_id",
    "symbol",
    "direction",
    "confidence",
    "entry_price",
    "target_price",
    "stop_loss",
    "timeframe",
    "strategy",
    "notes",
)
DECIMAL_FIELDS = frozenset({"confidence", "entry_price", "target_price", "stop_loss", "exit_price"})


MAX_PROBLEMS_LISTED = 20


@dataclass
class Check:
    name: str
    problems: list[str] = field(default_factory=list)
    failures: int = 0
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.failures == 0

    def fail(self, problem: str) -> None:
        self.failures += 1
        if len(self.problems) < MAX_PROBLEMS_LISTED:  # enough to act on; `failures` has the count
            self.problems.append(problem)


@dataclass
class AuditResult:
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def _same(name: str, stored: Any, told: Any) -> bool:
    if name in DECIMAL_FIELDS:
        return (stored is None and told is None) or (
            stored is not None and told is not None and Decimal(str(stored)) == Decimal(str(told))
        )
    return str(stored) == str(told) if stored is not None else told is None


def availability(facts: dict[str, list[dict[str, Any]]], allowed_codes: frozenset[str]) -> Check:
    """No 5xx (or no answer) outside a fault window; inside one only 503 with an allowed code."""
    check = Check("no 5xx outside fault windows; only the outage's 503 inside, recovered within 2 s")
    faults = facts.get("fault", [])
    windows = [(fault["down_at"], fault["up_at"] + RECOVERY_SECONDS) for fault in faults]
    inside = 0
    latest = None  # seconds after its server came back that the latest outage answer was asked for
    for request in facts.get("request", []):
        if 0 < request["status"] < 500:
            continue
        during = [
            index for index, (start, end) in enumerate(windows) if request["t0"] <= end and request["t1"] >= start
        ]
        what = f"{request['method']} {request['name']} -> {request['status'] or 'no answer'} {request['code'] or ''}"
        if during and request["status"] == 503 and request["code"] in allowed_codes:
            inside += 1
            after = request["t0"] - faults[during[0]]["up_at"]
            latest = after if latest is None else max(latest, after)
        elif during:
            check.fail(f"during the outage: {what}")
        else:
            check.fail(f"outside any fault window: {what} at {request['t0']:.1f}")
    check.note = f"{inside} outage answers inside {len(windows)} fault window(s)"
    if latest is not None:
        check.note += f"; the last asked {latest:+.1f} s from the server's return"
    return check


def audit(engine: Engine | None, facts: dict[str, list[dict[str, Any]]], allowed_codes: frozenset[str]) -> AuditResult:
    """Every check; those that need the database are left out when there is none to read."""
    checks = [availability(facts, allowed_codes)]
    if engine is not None:
        checks += DatabaseAudit(engine, facts).checks()
    return AuditResult(checks)


def nonce_of(notes: str | None) -> str:
    return (notes or "").rsplit(" ", 1)[-1]


class DatabaseAudit:
    def __init__(self, engine: Engine, facts: dict[str, list[dict[str, Any]]]) -> None:
        self.facts = facts
        user_ids = [uuid.UUID(user["user_id"]) for user in facts.get("user", [])]
        with Session(engine) as session:
            self.signals = {row.id: row for row in session.scalars(select(Signal).where(Signal.user_id.in_(user_ids)))}
            self.usage = list(session.scalars(select(DailyUsage).where(DailyUsage.user_id.in_(user_ids))))
            self.audit_rows = [
                (entity_id, action)
                for entity_id, action in session.execute(
                    select(AuditEvent.entity_id, AuditEvent.action).where(
                        AuditEvent.entity_type == "signal", AuditEvent.entity_id.in_(list(self.signals))
                    )
                )
            ]
            self.subscriptions = {
                row.user_id: row
                for row in session.scalars(select(Subscription).where(Subscription.user_id.in_(user_ids)))
            }
            self.plan_audit = [
                (entity_id, changes)
                for entity_id, changes in session.execute(
                    select(AuditEvent.entity_id, AuditEvent.changes).where(AuditEvent.entity_type == "subscription")
                )
            ]
            # The provider's events that took effect (not those ignored or not matching their checkout).
            self.payments = [
                (user_id, kind)
                for user_id, kind in session.execute(
                    select(PaymentEvent.user_id, PaymentEvent.type).where(
                        PaymentEvent.user_id.in_(user_ids), PaymentEvent.outcome == "applied"
                    )
                )
            ]
            self.plans = {row.code: row for row in session.scalars(select(Plan))}
        self.rows_by_nonce: dict[str, list[Signal]] = defaultdict(list)
        for row in self.signals.values():
            self.rows_by_nonce[nonce_of(row.notes)].append(row)

    def checks(self) -> list[Check]:
        return [
            self.acknowledged_signals(),
            self.replays(),
            self.nothing_unacknowledged(),
            self.usage_counters(),
            self.quotas_and_plans(),
            self.audit_trail(),
        ]

    def acknowledged_signals(self) -> Check:
        check = Check("every 201 signal exists exactly once with the acknowledged values")
        acknowledged = [c for c in self.facts.get("create", []) if c["status"] == 201 and not c["replayed"]]
        for nonce, rows in self.rows_by_nonce.items():
            if len(rows) > 1:
                check.fail(f"one create ({nonce}) made {len(rows)} signals")
        for create in acknowledged:
            told = create["signal"]
            row = self.signals.get(uuid.UUID(told["id"]))
            if row is None:
                check.fail(f"signal {told['id']} was acknowledged (201) but is not stored")
                continue
            wrong = [name for name in IMMUTABLE_FIELDS if not _same(name, getattr(row, name), told[name])]
            if wrong:
                check.fail(f"signal {told['id']}: stored {', '.join(wrong)} differ from the 201")
        check.note = check.note or f"{len(acknowledged)} acknowledged, {len(self.signals)} stored"
        return check

    def replays(self) -> Check:
        check = Check("every idempotent replay points at the signal its key created")
        replays = [c for c in self.facts.get("create", []) if c["replayed"]]
        for replay in replays:
            rows = self.rows_by_nonce.get(replay["nonce"], [])
            if [str(row.id) for row in rows] != [replay["signal"]["id"]]:
                check.fail(f"replay of key {replay['key']} names {replay['signal']['id']}, stored: {rows}")
        check.note = check.note or f"{len(replays)} replays"
        return check

    def nothing_unacknowledged(self) -> Check:
        check = Check("no signal from a create refused before its commit (4xx, or 503 with Retry-After)")
        attempts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for create in self.facts.get("create", []):
            attempts[create["nonce"]].append(create)
        unknown_committed = 0
        for nonce, tries in attempts.items():
            stored = bool(self.rows_by_nonce.get(nonce))
            if any(t["status"] in (200, 201) for t in tries):
                continue
            refused = all(0 < t["status"] < 500 or (t["status"] == 503 and t["retry_after"]) for t in tries)
            if refused and stored:
                check.fail(f"create {nonce} was refused ({[t['status'] for t in tries]}) yet stored")
            unknown_committed += stored
        check.note = check.note or f"{unknown_committed} created by a request whose answer said the outcome was unknown"
        return check

    def usage_counters(self) -> Check:
        check = Check("usage counters equal the creates they counted")
        created = Counter((row.user_id, row.created_at.date()) for row in self.signals.values())
        counters = {(row.user_id, row.day): row.signals_created for row in self.usage}
        for key in set(created) | set(counters):
            if created.get(key, 0) != counters.get(key, 0):
                check.fail(f"user {key[0]} on {key[1]}: counter {counters.get(key, 0)}, signals {created.get(key, 0)}")
        check.note = check.note or f"{len(counters)} counters"
        return check

    def quotas_and_plans(self) -> Check:
        check = Check("no user exceeded its quota or holds a plan it did not pay for")
        held: dict[uuid.UUID, set[str]] = defaultdict(lambda: {"free"})
        subscription_users = {row.id: row.user_id for row in self.subscriptions.values()}
        for row in self.subscriptions.values():
            held[row.user_id].add(row.plan_code)
        for entity_id, changes in self.plan_audit:
            if entity_id in subscription_users and "plan" in changes:
                held[subscription_users[entity_id]].update(v for v in changes["plan"].values() if v)
        created = Counter((row.user_id, row.created_at.date()) for row in self.signals.values())
        for (user_id, day), count in created.items():
            allowed = max(self.plans[code].signals_per_day for code in held[user_id])
            if count > allowed:
                check.fail(f"user {user_id} created {count} signals on {day}; its plans allow {allowed}")
        paid = {user_id for user_id, kind in self.payments if kind == "invoice.paid"}
        for row in self.subscriptions.values():
            if self.plans[row.plan_code].price_cents > 0 and row.user_id not in paid:
                check.fail(f"user {row.user_id} is on {row.plan_code} without a paid invoice")
        acknowledged = [p for p in self.facts.get("paid", []) if p["status"] == 200 and p["applied"]]
        for payment in acknowledged:
            subscription = self.subscriptions.get(uuid.UUID(payment["user_id"]))
            if subscription is None or subscription.plan_code != payment["plan"]:
                check.fail(f"user {payment['user_id']}: payment acknowledged, plan not {payment['plan']}")
        check.note = check.note or f"{len(created)} user-days, {len(acknowledged)} plans bought"
        return check

    def audit_trail(self) -> Check:
        check = Check("every signal change has its audit row")
        actions = Counter(self.audit_rows)
        for row in self.signals.values():
            if actions[(row.id, "created")] != 1:
                check.fail(f"signal {row.id}: {actions[(row.id, 'created')]} 'created' rows")
            if row.status == "CLOSED" and actions[(row.id, "closed")] != 1:
                check.fail(f"signal {row.id} is CLOSED with {actions[(row.id, 'closed')]} 'closed' rows")
        closes = self.facts.get("close", [])
        for close in closes:
            closed = self.signals.get(uuid.UUID(close["signal_id"]))
            if (
                closed is None
                or closed.status != "CLOSED"
                or not _same("exit_price", closed.exit_price, close["exit_price"])
            ):
                check.fail(f"signal {close['signal_id']}: close acknowledged, stored {closed and closed.status}")
        check.note = check.note or f"{len(self.audit_rows)} audit rows, {len(closes)} closes acknowledged"
        return check
