"""Runs the local gateway (`invest serve`) as a separate process on a free port, for tests over HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import requests

INVEST = Path(sys.executable).with_name("invest")
_LISTENING = re.compile(r"^Listening on (http://\S+)")
_AWS_APIS = re.compile(r"^  AWS APIs for the functions .*: (http://\S+)$")


def invest_serve_command() -> list[str]:
    """`invest serve` on the project's template, on a port the OS picks."""
    return [str(INVEST), "serve", "--host", "127.0.0.1", "--port", "0"]


def migrated_api_environment(workdir: Path, **overrides: str) -> dict[str, str]:
    """This process's environment with a fresh SQLite database (and metrics file) under `workdir`,
    migrated with `invest migrate`: what `invest serve` needs to serve the project's API."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'api.db'}",
        "METRICS_FILE": str(workdir / "metrics.jsonl"),
        **overrides,
    }
    subprocess.run([str(INVEST), "migrate"], env=env, check=True, capture_output=True)
    return env


def serve_template_command(template: Path) -> list[str]:
    """The gateway on another template (`invest serve` always serves the project's)."""
    code = (
        "import sys; from pathlib import Path; from invest_dev.gateway.server import serve; "
        "serve('127.0.0.1', 0, template=Path(sys.argv[1]))"
    )
    return [sys.executable, "-c", code, str(template)]


class RunningGateway:
    """A gateway process; its stdout and stderr lines are collected as they come."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str], start_timeout: float = 60.0) -> None:
        self.process = subprocess.Popen(
            list(command), env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._listening = threading.Event()
        self.base_url = ""
        self.aws_url = ""  # the listener of the emulated AWS APIs (127.0.0.1 only, SigV4-signed)
        for stream, lines in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr)):
            threading.Thread(target=self._collect, args=(stream, lines), daemon=True).start()
        if not self._listening.wait(start_timeout):
            self.stop()
            raise RuntimeError("the gateway did not start:\n" + "\n".join(self.stderr))

    def _collect(self, stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.append(line.rstrip("\n"))
            aws_apis = _AWS_APIS.match(line.rstrip("\n"))
            if aws_apis:
                self.aws_url = aws_apis.group(1)
            match = _LISTENING.match(line)
            if match:
                self.base_url = match.group(1)
                self._listening.set()

    def url(self, path: str) -> str:
        return self.base_url + path

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(self.url(path), timeout=30, **kwargs)  # type: ignore[arg-type]

    def wait_for_output(self, lines: list[str], text: str, timeout: float = 5.0) -> str:
        """The first line of `lines` (self.stdout or self.stderr) containing `text`, once it has come."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in list(lines) if text in line), None)
            if found is not None:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no output line contains {text!r}")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal the gateway and wait for it to exit; its exit code. One that does not exit in time is
        asked for its threads' stacks (SIGUSR1), killed, and the failure shows its last lines."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGUSR1)
                time.sleep(1)
                self.process.kill()
                self.process.wait()
                tail = "\n".join(self.stderr[-80:])
                raise AssertionError(f"the gateway did not exit {timeout:.0f} s after {signum!r}:\n{tail}") from None
        return self.process.returncode


def process_exists(pid: int) -> bool:
    """Whether a process runs (or lingers unreaped) with this pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
