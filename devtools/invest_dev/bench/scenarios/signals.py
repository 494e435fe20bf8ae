"""Signals scenarios: list and analytics latency with 1 000 and 100 000 signals, on SQLite and PostgreSQL.

Each (backend, size) gets a scratch database holding one investor (the sample user's id, so the
sample events' tokens work) with `size` signals spread over symbols, strategies, directions and
statuses. Keyset pages should cost the same at both sizes, first page or middle page: the indexes
ending in (created_at, id) turn each page into a short index range scan. Analytics aggregates all
of the investor's matching rows, so it grows with them; the rows say by how much.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from invest_dev.bench.environment import scratch_database
from invest_dev.bench.measure import measure
from invest_dev.bench.scenarios import BenchContext, ScenarioResult, scenario

SIZES = (1_000, 100_000)
BACKENDS = ("sqlite", "postgres")
SYMBOLS = [f"SYM{n:02d}" for n in range(50)]
STRATEGIES = ["breakout", "momentum", "mean-reversion", "swing", None]
INSERT_BATCH = 5_000
# Enough samples for stable percentiles, few enough that 100k-row analytics stays within minutes.
MAX_LIST_CALLS = 300
MAX_ANALYTICS_CALLS = {1_000: 100, 100_000: 20}


def _signal_rows(user_id: Any, count: int) -> Iterator[dict[str, Any]]:
    from investment_system.domain import Direction
    from investment_system.services.signals.lifecycle import compute_return_pct

    rng = random.Random(count)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    far_future = datetime.now(UTC) + timedelta(days=365)
    for n in range(count):
        direction = rng.choice(list(Direction))
        entry = Decimal(rng.randint(100, 5_000_000)).scaleb(-2)
        created = start + timedelta(seconds=37 * n)
        row: dict[str, Any] = {
            "user_id": user_id,
            "symbol": rng.choice(SYMBOLS),
            "direction": direction.value,
            "confidence": Decimal(rng.randint(0, 10_000)).scaleb(-4),
            "entry_price": entry,
            "timeframe": rng.choice(["1h", "4h", "1d"]),
            "strategy": rng.choice(STRATEGIES),
            "status": "OPEN",
            "expires_at": far_future if rng.random() < 0.5 else None,
            "exit_price": None,
            "return_pct": None,
            "closed_at": None,
            "created_at": created,
            "updated_at": created,
        }
        roll = rng.random()
        if roll < 0.3:
            exit_price = (entry * Decimal(rng.uniform(0.8, 1.25))).quantize(Decimal("0.01"))
            row.update(
                status="CLOSED",
                exit_price=exit_price,
                return_pct=compute_return_pct(direction, entry, exit_price),
                closed_at=created + timedelta(hours=rng.randint(1, 240)),
            )
        elif roll < 0.4:
            row.update(status="EXPIRED", expires_at=created + timedelta(days=1))
        yield row


def _seed(engine: Any, user_id: Any, count: int) -> None:
    from sqlalchemy import insert, text

    from investment_system.models import Signal, User

    with engine.begin() as connection:
        connection.execute(
            insert(User),
            [{"id": user_id, "email": "bench-investor@example.com", "password_hash": "-", "role": "user",
              "is_active": True, "failed_login_count": 0}],
        )  # fmt: skip
        batch: list[dict[str, Any]] = []
        for row in _signal_rows(user_id, count):
            batch.append(row)
            if len(batch) == INSERT_BATCH:
                connection.execute(insert(Signal), batch)
                batch = []
        if batch:
            connection.execute(insert(Signal), batch)
    with engine.begin() as connection:
        # The planner's statistics, as autovacuum (or MySQL's persistent statistics) would gather them.
        connection.execute(text("ANALYZE TABLE signals" if engine.dialect.name == "mysql" else "ANALYZE"))


def _middle_cursor(user_id: Any) -> str:
    """The cursor after the signal halfway down the newest-first list."""
    from sqlalchemy import func, select

    from investment_system.db.engine import unit_of_work
    from investment_system.models import Signal
    from investment_system.repositories.pagination import encode_cursor

    with unit_of_work() as session:
        total = session.scalar(select(func.count()).select_from(Signal).where(Signal.user_id == user_id)) or 0
        middle = session.execute(
            select(Signal.created_at, Signal.id)
            .where(Signal.user_id == user_id)
            .order_by(Signal.created_at.desc(), Signal.id.desc())
            .offset(total // 2)
            .limit(1)
        ).one()
    return encode_cursor(middle.created_at, middle.id, f"signals:{user_id}")


def _with_query(event: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    changed["rawQueryString"] = urlencode(query)
    changed.pop("queryStringParameters", None)
    if query:
        changed["queryStringParameters"] = dict(query)
    return changed


def _timed(ctx: BenchContext, function_name: str, event: dict[str, Any], calls: int) -> list[float]:
    def call() -> None:
        reply = ctx.invoke(function_name, event)
        if reply["statusCode"] != 200:
            raise RuntimeError(f"{function_name}: {reply['statusCode']} {reply.get('body')}")

    call()  # warm: the first call also fills the engine's pool
    return measure(call, calls)


@scenario
def signal_list_and_analytics(ctx: BenchContext) -> list[ScenarioResult]:
    from invest_dev.bench.scenarios.analytics_cache import analytics_cache  # it imports this module

    user_id = ctx.users.user_id
    list_calls = min(ctx.iterations, MAX_LIST_CALLS)
    results = []
    for backend in BACKENDS:
        for size in SIZES:
            with scratch_database(backend) as engine:
                _seed(engine, user_id, size)
                # Tokens of a session in this database: each request reads the caller's user and session.
                list_event = ctx.event("ListSignalsFunction")
                analytics_event = ctx.event("GetSignalAnalyticsFunction")
                where = f"{size:_} signals, {backend}".replace("_", " ")
                cursor = _middle_cursor(user_id)
                lists = {
                    "GET /v1/signals, first page of 20": {"limit": "20"},
                    "GET /v1/signals, page halfway down (cursor)": {"limit": "20", "cursor": cursor},
                    "GET /v1/signals?symbol=SYM07&status=OPEN": {"symbol": "SYM07", "status": "OPEN"},
                }
                for name, query in lists.items():
                    samples = _timed(ctx, "ListSignalsFunction", _with_query(list_event, query), list_calls)
                    results.append(ScenarioResult(f"{name} ({where})", samples))
                analytics = {
                    "GET /v1/signals/analytics": {},
                    "GET /v1/signals/analytics?symbol=SYM07": {"symbol": "SYM07"},
                }
                calls = min(ctx.iterations, MAX_ANALYTICS_CALLS[size])
                for name, query in analytics.items():
                    with analytics_cache(0):  # each answer computed; cached ones: scenarios/analytics_cache.py
                        samples = _timed(ctx, "GetSignalAnalyticsFunction", _with_query(analytics_event, query), calls)
                    results.append(ScenarioResult(f"{name} ({where})", samples, "aggregates every matching row"))
    return results
