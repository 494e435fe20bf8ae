"""Containers: worker processes that each import one function and serve its invocations one at a time.

A container is a subprocess running `invest_dev.gateway.worker`, talking over a multiprocessing
socket pair: forking a threaded server is unsafe, and a subprocess's stdout is captured at the
descriptor level, whatever writes to it. What containers print goes to the gateway's stdout, except
CloudWatch EMF lines (Powertools Metrics), which are appended to the metrics file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from multiprocessing import Pipe
from pathlib import Path
from typing import IO, Any, cast

from invest_dev.template import FunctionSpec

SHUTDOWN_GRACE_SECONDS = 3.0
# template.yaml's Globals turn on TLS to RDS; local database servers don't speak it. The
# environment of `invest serve` still wins over both.
# The flags' local file: edited while the gateway serves, read again by each container when it changes.
LOCAL_FLAGS_FILE = Path(".local/feature-flags.json")
LOCAL_ENVIRONMENT = {
    "DATABASE_SSL": "false",
    "FEATURE_FLAGS_APPCONFIG_APPLICATION": "",  # the template's AppConfig is AWS's; locally the file
    "FEATURE_FLAGS_FILE": str(LOCAL_FLAGS_FILE),
}


def local_flags_file() -> Path:
    """The flags' file the containers read (FEATURE_FLAGS_FILE, else LOCAL_FLAGS_FILE), made with every
    flag's default when missing, so that a developer finds what to edit."""
    from investment_system.services.system.feature_flags import DEFAULT_DOCUMENT

    path = Path(os.environ.get("FEATURE_FLAGS_FILE") or LOCAL_FLAGS_FILE)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(DEFAULT_DOCUMENT, indent=2) + "\n")
    return path


class WorkerOutput:
    """Where containers' stdout goes: log lines to the gateway's stdout, EMF lines to the metrics file
    (and to `on_metrics`, the Prometheus exporter's, when there is one)."""

    def __init__(self, metrics_file: Path, stream: IO[str], on_metrics: Callable[[str], None] | None = None) -> None:
        self.metrics_file = metrics_file
        self._stream = stream
        self._on_metrics = on_metrics
        self._lock = threading.Lock()

    def write_line(self, line: str) -> None:
        with self._lock:
            if _is_emf(line):
                self.metrics_file.parent.mkdir(parents=True, exist_ok=True)
                # Opened per line so that a reader may truncate or rotate the file at any time.
                with self.metrics_file.open("a", encoding="utf-8") as metrics:
                    metrics.write(line + "\n")
                if self._on_metrics is not None:
                    self._on_metrics(line)
            else:
                self._stream.write(line + "\n")
                self._stream.flush()


def _is_emf(line: str) -> bool:
    if not (line.startswith("{") and '"_aws"' in line):
        return False
    try:
        document = json.loads(line)
    except ValueError:
        return False
    return isinstance(document, dict) and "_aws" in document


class ContainerError(Exception):
    """The container could not answer: it failed to start, died, or ran out of time."""


class InvocationTimeout(ContainerError):
    pass


class Container:
    """A worker process that imported one function and serves its invocations one at a time."""

    def __init__(
        self,
        spec: FunctionSpec,
        template: Path,
        environment: Mapping[str, str],
        output: WorkerOutput,
        rate_limits: Path,
    ) -> None:
        self.spec = spec
        ours, theirs = Pipe()
        command = [sys.executable, "-m", "invest_dev.gateway.worker", str(template), spec.name]
        try:
            self.process = subprocess.Popen(
                [*command, str(theirs.fileno()), str(rate_limits)],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                env=dict(environment),
            )
        except OSError as error:
            ours.close()
            raise ContainerError(f"cannot start a container for {spec.name}: {error}") from error
        finally:
            theirs.close()
        self._connection = ours
        stdout = cast(IO[bytes], self.process.stdout)
        self._forwarder = threading.Thread(target=self._forward, args=(stdout, output), daemon=True)
        self._forwarder.start()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float) -> None:
        if not self._connection.poll(timeout):
            raise ContainerError(f"{self.spec.name} did not start within {timeout:.0f} s")
        if "ready" not in self._receive():
            raise ContainerError(f"{self.spec.name} failed to initialise (see its log above)")

    def invoke(self, event: dict[str, Any], timeout: float) -> dict[str, Any]:
        """The worker's reply: {"result": ...} or {"error": ...}."""
        try:
            self._connection.send_bytes(json.dumps({"event": event}).encode())
        except OSError as error:
            raise ContainerError(f"{self.spec.name} is gone: {error}") from error
        if not self._connection.poll(max(timeout, 0.0)):
            raise InvocationTimeout(f"{self.spec.name} timed out")
        return self._receive()

    def _receive(self) -> dict[str, Any]:
        try:
            reply: dict[str, Any] = json.loads(self._connection.recv_bytes())
        except (EOFError, OSError) as error:
            raise ContainerError(f"{self.spec.name} died (exit code {self.process.poll()})") from error
        return reply

    def kill(self) -> None:
        if self.alive:
            self.process.kill()

    def stop(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """End the worker: an idle one exits when its connection closes; a stuck one is killed."""
        stop_together([self], grace)

    def _reap(self, deadline: float) -> None:
        try:
            self.process.wait(max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._forwarder.join(max(deadline - time.monotonic(), 0.1))

    @staticmethod
    def _forward(stdout: IO[bytes], output: WorkerOutput) -> None:
        with stdout:
            for raw in stdout:
                output.write_line(raw.decode("utf-8", errors="replace").rstrip("\r\n"))


def stop_together(containers: Iterable[Container], grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
    """End containers within one grace period shared by all, not one grace after another: every
    connection closes first, then each worker gets what is left of the grace before it is killed."""
    ending = list(containers)
    for container in ending:
        container._connection.close()
    deadline = time.monotonic() + grace
    for container in ending:
        container._reap(deadline)


def worker_environment(spec: FunctionSpec) -> dict[str, str]:
    """A container's environment: the template's variables under the local environment, plus what
    Lambda (and `sam local`, which Powertools' Tracer recognises) set."""
    # The gateway owns the metrics file: it appends the EMF lines containers print. A container
    # given METRICS_FILE would append its own copy of each (observability.py does when it is set).
    inherited = {name: value for name, value in os.environ.items() if name != "METRICS_FILE"}
    return {
        **spec.environment,
        **LOCAL_ENVIRONMENT,
        **inherited,
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_SAM_LOCAL": "true",
        "PYTHONUNBUFFERED": "1",  # log lines reach the gateway as they are written
    }
