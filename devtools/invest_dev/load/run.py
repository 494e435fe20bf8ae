"""The load run's command line: set up, load (with a fault), audit, report.

A local run starts what `make run` starts, `invest serve`, on a fresh database of its own (a SQLite
file, or a PostgreSQL instance it creates: `faults.ScratchPostgres`) and a free port; `--base-url`
drives a server that is already running instead (a deployed stage, or your own `make run`), and
`--database-url` lets the audit read that server's database.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import psutil

from invest_dev.load.audit import AuditResult, audit
from invest_dev.load.faults import FaultSchedule, ScratchPostgres, ScratchRedis, free_port
from invest_dev.load.ledger import Ledger, read_ledger
from invest_dev.load.report import DASHBOARDS, RunSetup, draw_dashboard, report, write_results
from invest_dev.template import ROOT, TEMPLATE, http_functions

SCENARIO = Path(__file__).with_name("scenario.py")
RUNS = ROOT / ".local" / "load"
SERVER_READY_TIMEOUT_SECONDS = 120.0
OUTAGE_CODES = {"postgres": frozenset({"DATABASE_UNAVAILABLE"}), "redis": frozenset({"RATE_LIMITER_UNAVAILABLE"})}


@dataclass(frozen=True)
class Variant:
    name: str
    database: str  # sqlite | postgres | remote (--base-url)
    fault: str | None  # postgres | redis
    duration_s: int
    users: int
    down_at_s: float = 15.0
    up_at_s: float = 25.0
    fail_closed: bool = False

    @property
    def title(self) -> str:
        backend = {"sqlite": "SQLite", "postgres": "PostgreSQL", "remote": "a running server"}[self.database]
        if self.fault == "postgres":
            return f"{backend}, stopped at {self.down_at_s:g} s and started again at {self.up_at_s:g} s"
        if self.fault == "redis":
            mode = "fail-closed" if self.fail_closed else "fail-open"
            return (
                f"{backend}; Redis, the rate limiter's backend ({mode}), stopped at {self.down_at_s:g} s "
                f"and started again at {self.up_at_s:g} s"
            )
        return f"{backend}, no fault"


# The short runs of CI: every regression of the audit fails the build, in about a minute.
CI_VARIANTS = (
    Variant("ci-sqlite", "sqlite", None, duration_s=10, users=8),
    Variant("ci-postgres-outage", "postgres", "postgres", duration_s=20, users=8, down_at_s=6, up_at_s=11),
)


def _health(base_url: str) -> int:
    try:
        with urllib.request.urlopen(f"{base_url}/v1/health", timeout=2) as response:  # noqa: S310 (our URL)
            return int(response.status)
    except OSError as error:
        return int(getattr(error, "code", 0) or 0)


def _wait_until_warm(server: subprocess.Popen[bytes], base_url: str) -> None:
    """Until the server answers and has started (and imported) one container per function, so that
    the load measures warm functions, not the gateway's start."""
    deadline = time.monotonic() + SERVER_READY_TIMEOUT_SECONDS
    functions = len(http_functions(TEMPLATE))
    tree = psutil.Process(server.pid)
    while _health(base_url) != 200 or len(tree.children()) < functions:
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"load: the server did not start (see {RUNS}/<run>/server.log)")
        time.sleep(0.5)
    while sum(process.cpu_percent(0.5) for process in tree.children()) > 2 * functions:
        if time.monotonic() > deadline:
            break  # busy machine: start anyway
    time.sleep(0.5)


@contextmanager
def _server(run_dir: Path, environment: dict[str, str]) -> Iterator[str]:
    """`invest serve` on a free port, as `make run` starts it; yields its base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "invest_dev.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with (run_dir / "server.log").open("wb") as log:
        server = subprocess.Popen(command, env={**os.environ, **environment}, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_warm(server, base_url)
            yield base_url
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _migrate(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "invest_dev.cli", "migrate"],
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _locust(base_url: str, variant: Variant, environment: dict[str, str]) -> None:
    command = [
        *(sys.executable, "-m", "locust", "-f", str(SCENARIO), "--headless", "--host", base_url),
        *("--users", str(variant.users), "--spawn-rate", str(max(1, variant.users // 2))),
        *("--run-time", f"{variant.duration_s}s", "--stop-timeout", "10"),
        *("--only-summary", "--exit-code-on-error", "0", "--loglevel", "WARNING"),
    ]
    subprocess.run(command, env={**os.environ, **environment}, check=True)


def run_variant(variant: Variant, *, base_url: str | None, database_url: str | None, write_docs: bool) -> bool:
    """One load run; True when its audit passed."""
    run_dir = RUNS / variant.name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    ledger = Ledger(run_dir / "ledger.jsonl")
    webhook_secret = os.environ.get("PAYMENT_WEBHOOK_SECRET") or secrets.token_urlsafe(32)
    client_environment = {
        "LOAD_LEDGER": str(ledger.path),
        "LOAD_RUN_ID": secrets.token_hex(4),
        "PAYMENT_WEBHOOK_SECRET": webhook_secret,
    }
    metrics_file = run_dir / "metrics.jsonl"
    print(f"load: {variant.name}: {variant.title}", flush=True)
    local = base_url is None
    with ExitStack() as cleanup:
        fault: FaultSchedule | None = None
        if base_url is None:
            server_environment = {
                "ENVIRONMENT": "dev",
                "METRICS_FILE": str(metrics_file),
                "LOG_LEVEL": "WARNING",
                "PAYMENT_WEBHOOK_SECRET": webhook_secret,
                # Every simulated investor comes from 127.0.0.1: per-IP limits would refuse the crowd.
                "RATE_LIMIT_ANONYMOUS_PER_MINUTE": "1000000",
                "RATE_LIMIT_BACKEND": "memory",
            }
            database_url = f"sqlite:///{run_dir / 'load.db'}"
            if variant.database == "postgres":
                postgres = ScratchPostgres()
                cleanup.callback(postgres.destroy)
                postgres.start()
                database_url = postgres.url
                if variant.fault == "postgres":
                    fault = FaultSchedule(postgres, variant.down_at_s, variant.up_at_s, ledger)
            _migrate(database_url)
            server_environment["DATABASE_URL"] = database_url
            if variant.fault == "redis":
                redis = ScratchRedis()
                cleanup.callback(redis.destroy)
                redis.start()
                server_environment |= {
                    "RATE_LIMIT_BACKEND": "redis",
                    "REDIS_URL": redis.url,
                    "RATE_LIMIT_FAIL_OPEN": "false" if variant.fail_closed else "true",
                }
                fault = FaultSchedule(redis, variant.down_at_s, variant.up_at_s, ledger)
            base_url = cleanup.enter_context(_server(run_dir, server_environment))
            metrics_file.unlink(missing_ok=True)  # the server's view of the load only, not of its start
        if fault is not None:
            fault.begin()
        _locust(base_url, variant, client_environment)
        if fault is not None:
            fault.join()
            if fault.error is not None:
                raise SystemExit(f"load: the fault could not be staged: {fault.error!r}")
        result = _audit(database_url, read_ledger(ledger.path), variant)
    target = "`invest serve` (what `make run` starts)" if local else base_url
    facts = read_ledger(ledger.path)
    setup = RunSetup(variant.name, variant.title, target, variant.users, variant.duration_s)
    dashboard = draw_dashboard(metrics_file, run_dir / "dashboard.html")
    published = None
    if write_docs and dashboard is not None:
        source = f"the metrics of the {variant.name} load run"
        draw_dashboard(metrics_file, DASHBOARDS / f"{variant.name}-dashboard.html", source)
        published = f"load/{variant.name}-dashboard.html"
    section = report(setup, facts, metrics_file, result, database_audited=bool(database_url), dashboard=published)
    print(section, flush=True)
    if dashboard is not None:
        print(f"\nload: the server's metrics drawn as the operations dashboard: {dashboard}", flush=True)
    if write_docs:
        write_results(variant.name, section)
        print(f"load: results written to docs/load-results.md ({variant.name})", flush=True)
    print(f"load: {variant.name}: audit {'passed' if result.passed else 'FAILED'}", flush=True)
    return result.passed


def _audit(database_url: str | None, facts: dict[str, list[dict[str, object]]], variant: Variant) -> AuditResult:
    from investment_system.db.engine import build_engine
    from investment_system.settings import DatabaseSettings

    allowed = OUTAGE_CODES["redis"] if variant.fail_closed else frozenset()
    allowed = OUTAGE_CODES["postgres"] if variant.fault == "postgres" else allowed
    if database_url is None:
        return audit(None, facts, allowed)
    engine = build_engine(DatabaseSettings(url=database_url))
    try:
        return audit(engine, facts, allowed)
    finally:
        engine.dispose()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m invest_dev.load", description=__doc__)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--fault", choices=("postgres", "redis"), help="stop and start this server during the load")
    parser.add_argument("--fail-closed", action="store_true", help="with --fault redis: RATE_LIMIT_FAIL_OPEN=false")
    parser.add_argument("--duration", type=int, default=45, help="seconds of load (default 45)")
    parser.add_argument("--users", type=int, default=20, help="simulated investors (default 20)")
    parser.add_argument("--down-at", type=float, default=15.0, help="seconds into the load the fault starts")
    parser.add_argument("--up-at", type=float, default=25.0, help="seconds into the load the server is started again")
    parser.add_argument("--base-url", default=os.environ.get("LOAD_BASE_URL"), help="drive this server instead")
    parser.add_argument("--database-url", default=os.environ.get("LOAD_DATABASE_URL"), help="with --base-url")
    parser.add_argument("--name", help="the run's name (its folder under .local/load/, its section of the results)")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/load-results.md")
    parser.add_argument("--ci", action="store_true", help="the short runs of CI (SQLite; PostgreSQL with an outage)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.ci:
        variants = list(CI_VARIANTS)
    else:
        database = "remote" if args.base_url else "postgres" if args.fault == "postgres" else args.database
        default_name = database if not args.fault else f"{database}-{args.fault}-outage".removeprefix(f"{args.fault}-")
        variant = Variant(
            args.name or default_name, database, args.fault, args.duration, args.users, args.down_at, args.up_at
        )
        variants = [replace(variant, fail_closed=args.fail_closed)]
    if args.base_url and (args.fault or args.ci):
        raise SystemExit("load: faults need servers of the run's own; --base-url takes none")
    passed = [
        run_variant(
            variant,
            base_url=args.base_url,
            database_url=args.database_url,
            write_docs=not (args.no_docs or args.ci),
        )
        for variant in variants
    ]
    return 0 if all(passed) else 1
