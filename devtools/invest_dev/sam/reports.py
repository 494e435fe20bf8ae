"""Each function's first invocation in its runtime container, as the emulator there reports it.

`make bench` runs this beside its own method: `sam local start-lambda` on a scratch PostgreSQL
database, each function invoked once with its prepared event (`samples`), and the emulator's REPORT
line of that invocation read (Init Duration, Duration, Max Memory Used).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from invest_dev.sam.local import (
    clear_stale_build_locks,
    container_database,
    prepare,
    remove_containers,
    sam_command,
    sam_environment,
    write_env_vars,
)
from invest_dev.template import ROOT

POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+pg8000://postgres@127.0.0.1:5432/postgres")
_REPORT = re.compile(
    r"^REPORT RequestId: \S+\s+(?:Init Duration: (?P<init>[\d.]+) ms\s+)?Duration: (?P<duration>[\d.]+) ms"
    r".*?Max Memory Used: (?P<memory>\d+) MB"
)


@dataclass(frozen=True)
class ContainerReport:
    function: str
    init_ms: float | None
    duration_ms: float
    max_memory_mb: int
    answer: str  # the status, or the error type, of the invocation


def first_invocations() -> list[ContainerReport]:
    """Every function invoked once, each in a container of its own; their REPORT lines."""
    import boto3
    from botocore.config import Config

    from invest_dev.scratch_db import create_database, drop_database

    url = create_database(POSTGRES_ADMIN_URL, f"invest_bench_sam_{uuid.uuid4().hex[:10]}")
    try:
        architecture = prepare(url)
        with _start_lambda(url, architecture) as (base_url, output):
            # Once the containers are up: a webhook signature and a stream ticket are good for minutes only.
            events = _prepared_events(url)
            client = boto3.client(
                "lambda",
                endpoint_url=base_url,
                region_name="us-east-1",
                aws_access_key_id="local",
                aws_secret_access_key="local",  # noqa: S106 (sam local checks no signature)
                config=Config(read_timeout=300, retries={"max_attempts": 0}),
            )
            reports = []
            for name, event in events.items():
                seen = len(output)
                payload = json.loads(client.invoke(FunctionName=name, Payload=json.dumps(event))["Payload"].read())
                reports.append(_report(name, _wait_for_report(output, seen), payload))
                print(f"sam local {name}: {reports[-1]}", file=sys.stderr, flush=True)
            return reports
    finally:
        drop_database(POSTGRES_ADMIN_URL, url)


def _prepared_events(database_url: str) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": database_url, "ENVIRONMENT": "dev", "METRICS_FILE": os.devnull}
    done = subprocess.run(
        [sys.executable, "-m", "invest_dev.sam.samples"], env=env, capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


@contextmanager
def _start_lambda(database_url: str, architecture: str) -> Iterator[tuple[str, list[str]]]:
    """start-lambda with samconfig.toml's flags (every container started first; the emulator in each starts
    the runtime on its first invocation, so each REPORT is a first invocation's)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    clear_stale_build_locks()
    with container_database(database_url) as reachable, tempfile.TemporaryDirectory() as scratch:
        env_vars = write_env_vars(reachable, Path(scratch) / "env.json")
        extra = ("--port", str(port), "--env-vars", str(env_vars))
        command = sam_command(["local", "start-lambda"], architecture, *extra)
        process = subprocess.Popen(
            command, cwd=ROOT, env=sam_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        output: list[str] = []
        reader = threading.Thread(target=_collect, args=(process, output), daemon=True)
        reader.start()
        try:
            _wait_for_port(port, process)
            yield f"http://127.0.0.1:{port}", output
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
            remove_containers(reachable)


def _collect(process: subprocess.Popen[str], output: list[str]) -> None:
    for line in process.stdout or ():
        output.append(line.rstrip("\n"))


def _wait_for_port(port: int, process: subprocess.Popen[str], timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("sam local start-lambda exited before it listened")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("sam local start-lambda did not listen")


def _wait_for_report(output: list[str], seen: int, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = next((line for line in output[seen:] if line.startswith("REPORT RequestId:")), None)
        if found:
            return found
        time.sleep(0.1)
    raise RuntimeError("the emulator wrote no REPORT line for the invocation")


def _report(function: str, line: str, payload: Any) -> ContainerReport:
    match = _REPORT.match(line)
    if match is None:
        raise RuntimeError(f"unreadable REPORT line: {line}")
    if isinstance(payload, dict) and "errorType" in payload:
        answer = str(payload["errorType"])
    elif isinstance(payload, dict) and "statusCode" in payload:
        answer = str(payload["statusCode"])
    else:
        answer = "ok"
    init = match.group("init")
    return ContainerReport(
        function, float(init) if init else None, float(match.group("duration")), int(match.group("memory")), answer
    )


def report_section(reports: list[ContainerReport]) -> str:
    """The Markdown section of docs/benchmarks.md."""
    lines = [
        "## First invocation in the Lambda runtime container (sam local)",
        "",
        "As the Runtime Interface Emulator inside each function's container reports it (its REPORT line), "
        "through `sam local start-lambda` in the runtime image built here (docs/development.md#sam-local), "
        "on PostgreSQL. The emulator starts the runtime on the first invocation, not before: its Init "
        "Duration is that start alone, and the import of the handler and the layer falls in the first "
        "invocation's Duration. Max Memory Used is what the emulator reports (the function's memory "
        "size: it does not measure it).",
        "",
        "| Function | Init Duration (ms) | First invocation Duration (ms) | Max Memory Used (MB) | Answer |",
        "|---|---:|---:|---:|---|",
    ]
    for report in reports:
        init = f"{report.init_ms:.2f}" if report.init_ms is not None else "-"
        lines.append(
            f"| {report.function} | {init} | {report.duration_ms:.1f} | {report.max_memory_mb} | {report.answer} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(report_section(first_invocations()))
