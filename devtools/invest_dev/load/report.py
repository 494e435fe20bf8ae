"""The load run's report: printed, written into docs/load-results.md, the server's metrics drawn.

- Clients' view, from the ledger (every request, timed by Locust): throughput and p50/p95/p99 per route.
- Answers by status and error code per route, from the ledger.
- The server's own view, from the EMF metrics its functions wrote during the run: the totals of the
  request, database, rate-limit and business metrics, its request latency percentiles, and the
  operations dashboard of monitoring/template.yaml drawn from them (`invest dashboard`'s page).
- The audit's verdict, check by check.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from invest_dev.load.audit import AuditResult
from invest_dev.local_dashboard import Datapoint, aggregate, read_emf, write_local_dashboard
from invest_dev.template import ROOT
from investment_system.observability import MetricName

RESULTS = ROOT / "docs" / "load-results.md"
DASHBOARDS = ROOT / "docs" / "load"  # each variant's dashboard page, linked from its section
RESULTS_HEADER = """# Load test results

The last results of each variant of the load run, written by the run itself (`make load`,
`make load-postgres-outage`, `make load-redis-outage`); the method, and how to read these tables,
are on the [Load testing](load-testing.md) page.
"""
SERVER_TOTALS = (
    MetricName.REQUESTS_2XX,
    MetricName.REQUESTS_4XX,
    MetricName.REQUESTS_5XX,
    MetricName.DATABASE_UNAVAILABLE,
    MetricName.RATE_LIMITER_UNAVAILABLE,
    MetricName.RATE_LIMIT_EXCEEDED,
    MetricName.QUOTA_EXCEEDED,
    MetricName.IDEMPOTENT_REPLAYS,
    MetricName.SIGNALS_CREATED_BUY,
    MetricName.SIGNALS_CREATED_SELL,
    MetricName.SIGNALS_CLOSED_BUY,
    MetricName.SIGNALS_CLOSED_SELL,
    MetricName.WEBHOOKS_APPLIED,
    MetricName.COLD_START,
)


@dataclass(frozen=True)
class RunSetup:
    name: str
    title: str  # "PostgreSQL, stopped at 15 s and started at 25 s"
    target: str  # what served the requests
    users: int
    duration_s: int


def client_table(facts: dict[str, list[dict[str, Any]]]) -> str:
    """Per route, from the ledger: requests, those not answered 2xx, throughput over the run, and the
    p50/p95/p99 (nearest rank) and maximum of the time from sending to reading the answer, in ms."""
    requests = facts.get("request", [])
    if not requests:
        return "No requests were made."
    span = max(r["t1"] for r in requests) - min(r["t0"] for r in requests)
    by_route: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for request in requests:
        by_route[f"`{request['name']}`"].append(request)
    lines = [
        "| route | requests | non-2xx | req/s | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for route, answered in [*sorted(by_route.items()), ("**all routes**", requests)]:
        times = [(r["t1"] - r["t0"]) * 1000 for r in answered]
        p50, p95, p99, slowest = (aggregate(times, stat) for stat in ("p50", "p95", "p99", "Maximum"))
        failed = sum(1 for r in answered if not 200 <= r["status"] < 300)
        lines.append(
            f"| {route} | {len(answered)} | {failed} | {len(answered) / span:.1f} "
            f"| {p50:.0f} | {p95:.0f} | {p99:.0f} | {slowest:.0f} |"
        )
    return "\n".join(lines)


def answers_table(facts: dict[str, list[dict[str, Any]]]) -> str:
    """Per route, the answers by status and code: every non-2xx one, and the count of 2xx."""
    by_route: dict[str, Counter[str]] = defaultdict(Counter)
    for request in facts.get("request", []):
        status = request["status"] or "no answer"
        answer = f"{status} {request['code']}" if request["code"] else str(status)
        by_route[request["name"]][answer] += 1
    lines = ["| route | answers |", "|---|---|"]
    for route in sorted(by_route):
        answers = sorted(by_route[route].items(), key=lambda item: (item[0], -item[1]))
        lines.append(f"| `{route}` | {', '.join(f'{answer} x{count}' for answer, count in answers)} |")
    return "\n".join(lines)


def _least_dimensions(datapoints: list[Datapoint], name: str) -> list[Datapoint]:
    """One metric's datapoints under its smallest dimension set: each value once, not once per set."""
    own = [point for point in datapoints if point.name == name]
    if not own:
        return []
    fewest = min(len(point.dimensions) for point in own)
    return [point for point in own if len(point.dimensions) == fewest]


def server_table(metrics_file: Path) -> str:
    """The server's own view: totals of its metrics, and its request and database latencies."""
    if not metrics_file.exists():
        return "No EMF metrics were written (a deployed stage's are in CloudWatch)."
    with metrics_file.open(encoding="utf-8") as lines:
        datapoints = list(read_emf(lines))
    totals = []
    for name in SERVER_TOTALS:
        values = [value for point in _least_dimensions(datapoints, name) for value in point.values]
        totals.append(f"{name.value} {sum(values):.0f}")
    lines_out = [f"Totals: {', '.join(totals)}.", "", "| latency (server) | count | p50 ms | p95 ms | p99 ms |"]
    lines_out.append("|---|---:|---:|---:|---:|")
    for name in (MetricName.REQUEST_LATENCY, MetricName.DATABASE_LATENCY):
        values = [value for point in _least_dimensions(datapoints, name) for value in point.values]
        if values:
            p50, p95, p99 = (aggregate(values, stat) for stat in ("p50", "p95", "p99"))
            lines_out.append(f"| {name.value} | {len(values)} | {p50:.1f} | {p95:.1f} | {p99:.1f} |")
    return "\n".join(lines_out)


def audit_table(result: AuditResult, database_audited: bool) -> str:
    lines = ["| check | result | |", "|---|---|---|"]
    for check in result.checks:
        verdict = "pass" if check.passed else f"**FAIL** ({check.failures})"
        detail = check.note if check.passed else "; ".join(check.problems[:3])
        lines.append(f"| {check.name} | {verdict} | {detail} |")
    if not database_audited:
        lines.append("| the database checks | not run | no database URL to read (`--database-url`) |")
    return "\n".join(lines)


def report(
    setup: RunSetup,
    facts: dict[str, list[dict[str, Any]]],
    metrics_file: Path,
    result: AuditResult,
    *,
    database_audited: bool,
    dashboard: str | None = None,
) -> str:
    """The run's section of the results page (Markdown; also what the run prints)."""
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end"
    verdict = "passed" if result.passed else "**failed**"
    return "\n\n".join(
        [
            f"## {setup.name}: {setup.title}",
            f"{started}; {setup.users} simulated investors for {setup.duration_s} s against {setup.target}; "
            f"{machine}. Audit {verdict}.",
            "### Clients' view",
            client_table(facts),
            "### Answers by status and code",
            answers_table(facts),
            "### The server's view (EMF metrics)",
            server_table(metrics_file)
            + (f"\n\n[The operations dashboard drawn from these metrics]({dashboard})" if dashboard else ""),
            "### Audit",
            audit_table(result, database_audited),
        ]
    )


def draw_dashboard(metrics_file: Path, output: Path, source: str | None = None) -> Path | None:
    """The operations dashboard drawn from the run's metrics (None when the run wrote none)."""
    return write_local_dashboard(metrics_file, output, source=source) if metrics_file.exists() else None


def write_results(name: str, section: str, page: Path = RESULTS) -> None:
    """Replace this variant's section of the results page (or add it), leaving the others as they are."""
    begin, end = f"<!-- load:{name} -->", f"<!-- /load:{name} -->"
    text = page.read_text(encoding="utf-8") if page.exists() else RESULTS_HEADER
    block = f"{begin}\n{section}\n{end}"
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    page.write_text(text, encoding="utf-8")
