"""`make bench`'s warm run on PostgreSQL behind a network delay, beside the reference app on the same database.

    .venv/bin/python -m invest_dev.bench.round_trips [--delay-ms 1] [--iterations 200]

In AWS every statement crosses the network to RDS Proxy; here it does not, so the run delays the way:
`tc netem` on the loopback delays the packets sent to a port of its own (socat forwards it to
PostgreSQL), or, without root or netem, a forwarder process holds each packet; the run says which.
Functions and reference answer the same events on one scratch database, alternately; each route's
statements are counted beside its p50 and p99 (docs/benchmarks.md#round-trips).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from invest_dev.bench.environment import SERVER_URLS, bench_environment, on_enterprise_plan, sample_event
from invest_dev.bench.measure import REFERENCE_APP, measure_prepared, percentile, reference_path
from invest_dev.bench.report import reference_route

DEFAULT_DELAY_MS = 1.0
DEFAULT_ITERATIONS = 200
# The routes timed: the reference app's four, and the functions whose round trips issue 26 counted.
FUNCTIONS = (
    "HealthFunction",
    "GetMeFunction",
    "GetSignalFunction",
    "ListSignalsFunction",
    "GetSignalAnalyticsFunction",
    "GetUsageFunction",
    "CreateSignalFunction",
    "UpdateSignalFunction",
    "UpdateMeFunction",
    "LoginFunction",
)


class DelayUnavailable(RuntimeError):
    """The delay could not be set up; the message says what to run instead."""


@dataclass(frozen=True)
class Delay:
    port: int  # where the delayed PostgreSQL listens
    how: str  # what delays it


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _tc(*args: str) -> None:
    subprocess.run(["tc", *args], check=True, capture_output=True, text=True)


@contextmanager
def delayed(target_port: int, delay_ms: float) -> Iterator[Delay]:
    """`target_port` behind a delay: the kernel's (`delayed_port`), else the forwarder's, saying why."""
    try:
        with delayed_port(target_port, delay_ms) as port:
            yield Delay(port, f"tc netem on the loopback, packets to port {port} (socat to {target_port})")
            return
    except DelayUnavailable as reason:
        why = str(reason)
    print(f"tc netem unavailable ({why}); delaying in a forwarder process instead", file=sys.stderr)
    port = _free_port()
    forwarder = subprocess.Popen(
        [sys.executable, "-m", "invest_dev.bench.round_trips", "--forward", str(port), str(target_port), str(delay_ms)]
    )
    try:
        _wait_for(port)
        yield Delay(port, "a forwarder process holding each packet sent to PostgreSQL (no tc netem here)")
    finally:
        forwarder.terminate()
        forwarder.wait(timeout=10)


def forward(listen_port: int, target_port: int, delay_ms: float) -> None:
    """Forward 127.0.0.1:`listen_port` to `target_port`, holding what the client sends for `delay_ms`
    (in order: every chunk waits as long), the replies at once: one added round-trip time."""
    import asyncio

    delay = delay_ms / 1000

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hold: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await reader.read(65536):
                if hold:
                    loop.call_later(hold, writer.write, data)
                else:
                    writer.write(data)
        finally:
            loop.call_later(hold, writer.close)

    async def connect(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        for writer in (client_writer, server_writer):
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(pipe(client_reader, server_writer, delay), pipe(server_reader, client_writer, 0))

    async def serve() -> None:
        server = await asyncio.start_server(connect, "127.0.0.1", listen_port)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


@contextmanager
def delayed_port(target_port: int, delay_ms: float) -> Iterator[int]:
    """A port on 127.0.0.1 forwarding to `target_port`, every packet sent to it delayed by `delay_ms`
    (the round trip's added time) by `tc netem`. Removed when the block ends."""
    missing = [tool for tool in ("tc", "socat") if shutil.which(tool) is None]
    if missing:
        raise DelayUnavailable(f"install {' and '.join(missing)} (apt-get install iproute2 socat) and run as root")
    current = subprocess.run(["tc", "qdisc", "show", "dev", "lo"], capture_output=True, text=True).stdout
    if "netem" in current or "prio" in current:
        raise DelayUnavailable(f"the loopback already has a queueing discipline ({current.strip()}); remove it first")
    port = _free_port()
    forwarder = subprocess.Popen(
        ["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork", f"TCP:127.0.0.1:{target_port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        try:
            # Band 4 of a prio qdisc holds the delay; only the filter's packets (to the port) reach it.
            _tc("qdisc", "add", "dev", "lo", "root", "handle", "1:", "prio", "bands", "4")
            _tc("qdisc", "add", "dev", "lo", "parent", "1:4", "handle", "40:", "netem", "delay", f"{delay_ms}ms")
            _tc(
                *("filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32"),
                *("match", "ip", "dport", str(port), "0xffff", "flowid", "1:4"),
            )
        except subprocess.CalledProcessError as error:
            _remove_delay()
            raise DelayUnavailable(
                f"`tc {' '.join(error.cmd[1:])}` failed ({error.stderr.strip()}): run as root, on a kernel with "
                "sch_netem (modprobe sch_netem)"
            ) from None
        _wait_for(port)
        yield port
    finally:
        _remove_delay()
        forwarder.terminate()
        forwarder.wait(timeout=10)


def _remove_delay() -> None:
    subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], capture_output=True, check=False)


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise DelayUnavailable(f"socat did not listen on port {port}")


def measured_round_trip_ms(url: str, samples: int = 50) -> float:
    """The median time of a statement without parameters (`SELECT 1`: one round trip) on `url`."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            times = []
            for _ in range(samples):
                started = time.perf_counter()
                connection.exec_driver_sql("SELECT 1")
                times.append((time.perf_counter() - started) * 1000)
            connection.execute(text("SELECT 1"))
        return percentile(times, 50)
    finally:
        engine.dispose()


@dataclass
class RouteResult:
    function: str
    statements: int
    warm_ms: list[float]
    reference_route: str
    reference_statements: int
    reference_ms: list[float]

    @property
    def ratio(self) -> float:
        return percentile(self.warm_ms, 50) / percentile(self.reference_ms, 50)


def _statements_of(engine: Any, call: Callable[[], object]) -> int:
    """How many statements one warm call sends (after one like it)."""
    from invest_dev.statement_log import StatementLog

    log = StatementLog(engine)
    try:
        call()
        with log.recording() as statements:
            call()
        return len(statements)
    finally:
        log.close()


def _reference_handler() -> tuple[Callable[[Any, Any], Any], Any]:
    """The reference app's handler and engine, imported into this process (its packages after ours)."""
    sys.path.append(reference_path())
    sys.path.append(str(REFERENCE_APP.parent))
    import reference_app  # type: ignore[import-not-found]

    return reference_app.handler, reference_app.engine


@dataclass
class Run:
    how: str  # what delayed the packets
    load: float  # the machine's load average during the run
    direct_ms: float  # a statement's round trip without the delay
    delayed_ms: float  # and with it
    results: list[RouteResult]


def run(delay_ms: float, iterations: int) -> Run:
    """The delayed run on a scratch PostgreSQL database."""
    from invest_dev.scratch_db import create_database, drop_database

    server = SERVER_URLS["postgres"]
    direct_url = create_database(server, f"invest_bench_rt_{uuid.uuid4().hex[:10]}")
    try:
        with delayed(make_url(direct_url).port or 5432, delay_ms) as delay:
            delayed_url = make_url(direct_url).set(port=delay.port).render_as_string(hide_password=False)
            os.environ.update(bench_environment(delayed_url))
            direct, through = measured_round_trip_ms(direct_url), measured_round_trip_ms(delayed_url)
            results = _measure(iterations)
            return Run(delay.how, os.getloadavg()[0], direct, through, results)
    finally:
        from investment_system.db.engine import dispose_engine

        dispose_engine()
        drop_database(server, direct_url)


def _measure(iterations: int) -> list[RouteResult]:
    from invest_dev.bench.prepare import event_source
    from invest_dev.bench.scenarios import BenchContext
    from invest_dev.events import LambdaContextStub
    from invest_dev.samples import seed_sample_users
    from investment_system.db.engine import get_engine
    from investment_system.db.migrate import upgrade

    upgrade()
    users = seed_sample_users()
    on_enterprise_plan(users.user_id)
    ctx = BenchContext(users=users, iterations=iterations, runs=1)
    reference, reference_engine = _reference_handler()
    results = []
    for name in FUNCTIONS:
        handler = ctx.handler(name)
        events = event_source(name, sample_event(ctx.spec(name), users), users)
        paired = reference_route(name)
        reference_events = event_source(paired, sample_event(ctx.spec(paired), users), users)

        def function_call(event: Any, handler: Any = handler, name: str = name) -> None:
            handler(event, LambdaContextStub(function_name=name))

        def reference_call(event: Any) -> None:
            reference(event, LambdaContextStub(function_name="ReferenceApp"))

        statements = _statements_of(get_engine(), lambda: function_call(events()))  # noqa: B023 (called here)
        reference_statements = _statements_of(reference_engine, lambda: reference_call(reference_events()))  # noqa: B023
        warm: list[float] = []
        reference_warm: list[float] = []
        # Alternating blocks, so that a busy moment of the machine falls on both.
        for _ in range(4):
            warm += measure_prepared(function_call, events, iterations // 4)
            reference_warm += measure_prepared(reference_call, reference_events, iterations // 4)
        results.append(RouteResult(name, statements, warm, paired, reference_statements, reference_warm))
        print(f"{name}: p50 {percentile(warm, 50):.2f} ms, {statements} statements", flush=True)
    return results


def table(run: Run) -> str:
    """The Markdown table of the run."""
    lines = [
        f"Warm, on PostgreSQL behind {run.how}: a statement's round trip {run.delayed_ms:.2f} ms "
        f"({run.direct_ms:.2f} ms without the delay), {len(run.results[0].warm_ms)} calls per route and app, "
        f"load average {run.load:.1f} on {os.cpu_count()} CPUs.",
        "",
        "| function | statements | p50 ms | p99 ms | reference route | its statements | its p50 ms | its p99 ms "
        "| p50 ratio |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for result in run.results:
        lines.append(
            f"| {result.function} | {result.statements} | {percentile(result.warm_ms, 50):.2f} "
            f"| {percentile(result.warm_ms, 99):.2f} | {result.reference_route} | {result.reference_statements} "
            f"| {percentile(result.reference_ms, 50):.2f} | {percentile(result.reference_ms, 99):.2f} "
            f"| {result.ratio:.2f} |"
        )
    return "\n".join(lines)


SECTION = """## Round trips

Every statement a function sends is a round trip to RDS Proxy, and a request waits for each in turn: on
SQLite, in the same process, they cost nothing, so the tables above never show them. This run puts a
delay between the functions and PostgreSQL and times the functions beside the reference app answering
the same events on the same database; `statements` is what one warm request sends, BEGIN, COMMIT and
pings included (tests/db/test_round_trips.py holds every route to its budget). The functions' connections
send a statement with parameters whole, in one round trip (db/drivers.py); the reference app's pg8000, as
it comes, in three (parse; describe and bind; execute). A statement without parameters is one for both.

"""


def section(result: Run | None, reason: str = "") -> str:
    """The `## Round trips` section of docs/benchmarks.md: the run's table, or why there is none."""
    if result is None:
        return SECTION + f"Not measured in this run: {reason}\n"
    return SECTION + table(result) + "\n"


def measured_section(delay_ms: float, iterations: int) -> str:
    """The section, measured in a process of its own (`make bench`'s has read its settings for SQLite)."""
    with tempfile.TemporaryDirectory(prefix="invest-bench-rt-") as scratch:
        markdown = Path(scratch, "round-trips.md")
        command = [sys.executable, "-m", "invest_dev.bench.round_trips", "--markdown", str(markdown)]
        subprocess.run([*command, "--delay-ms", str(delay_ms), "--iterations", str(iterations)], check=False)
        if not markdown.is_file():
            return section(None, "the run failed before it measured anything (its output says why)")
        return markdown.read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="invest-bench-round-trips", description=__doc__)
    parser.add_argument("--delay-ms", type=float, default=DEFAULT_DELAY_MS, help="added round-trip time")
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS, help="warm calls per route and app")
    parser.add_argument("--markdown", metavar="FILE", help="also write the section of docs/benchmarks.md here")
    parser.add_argument("--forward", nargs=3, metavar=("PORT", "TARGET", "DELAY_MS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.forward:
        forward(int(args.forward[0]), int(args.forward[1]), float(args.forward[2]))
        return 0
    try:
        result = run(args.delay_ms, args.iterations)
    except DelayUnavailable as reason:
        print(f"PostgreSQL with a network delay: not measured: {reason}", file=sys.stderr)
        if args.markdown:
            Path(args.markdown).write_text(section(None, str(reason)), encoding="utf-8")
        return 2
    print("\n" + table(result))
    if args.markdown:
        Path(args.markdown).write_text(section(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
