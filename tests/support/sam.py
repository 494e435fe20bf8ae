"""`sam local start-api` / `start-lambda` as processes for the tests, in the runtime image built here
(devtools/invest_dev/sam/), with warm containers and a database the containers reach."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import requests

from invest_dev.sam.image import host_architecture
from invest_dev.sam.local import (
    clear_stale_build_locks,
    container_database,
    prepare,
    remove_containers,
    sam_command,
    sam_environment,
    write_env_vars,
)
from invest_dev.scratch_db import create_database, drop_database
from invest_dev.template import ROOT
from investment_system.db import engine as db_engine
from investment_system.settings import DatabaseSettings
from tests.support.databases import SERVER_URLS

# With warm containers EAGER (samconfig.toml's start-lambda), every function's container starts before sam serves.
START_TIMEOUT_SECONDS = 900.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RunningSam:
    """A `sam local` server on a port of its own; its output lines are collected as they come."""

    def __init__(
        self,
        subcommand: Sequence[str],
        database_url: str | None,
        workdir: Path,
        *extra: str,
        start_timeout: float = START_TIMEOUT_SECONDS,
    ) -> None:
        clear_stale_build_locks()
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.output: list[str] = []
        self.database_url = database_url
        self._database = contextlib.ExitStack()
        # Without a database (a template of plain handlers), the run is known by a URL of its own.
        self.container_database_url = (
            self._database.enter_context(container_database(database_url))
            if database_url
            else f"sqlite:////tmp/{uuid.uuid4().hex}.db"
        )
        env_vars = write_env_vars(self.container_database_url, workdir / "env.json")
        command = sam_command(
            subcommand,
            host_architecture(),
            *extra,
            "--port",
            str(self.port),
            "--env-vars",
            str(env_vars),
            database_url=database_url,
        )
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=sam_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        threading.Thread(target=self._collect, daemon=True).start()
        self.started_seconds = self._wait_until_listening(start_timeout)

    def _collect(self) -> None:
        for line in self.process.stdout or ():
            self.output.append(line.rstrip("\n"))

    def _wait_until_listening(self, timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError("sam local exited:\n" + "\n".join(self.output[-40:]))
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return time.monotonic() - started
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"sam local did not listen within {timeout} s:\n" + "\n".join(self.output[-40:]))

    def url(self, path: str) -> str:
        return self.base_url + path

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(self.url(path), timeout=60, **kwargs)  # type: ignore[arg-type]

    def reports(self) -> list[str]:
        """The emulator's REPORT lines so far."""
        return [line for line in list(self.output) if line.startswith("REPORT RequestId:")]

    def stop(self) -> int | None:
        """Stop sam, then remove whatever container it left (SIGTERM: it lets a Ctrl-C wait while it
        starts containers)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        remove_containers(self.container_database_url, self.database_url)
        self._database.close()
        return self.process.returncode


@contextlib.contextmanager
def running_sam(
    subcommand: Sequence[str], database_url: str | None, workdir: Path, *extra: str
) -> Iterator[RunningSam]:
    sam = RunningSam(subcommand, database_url, workdir, *extra)
    try:
        yield sam
    finally:
        sam.stop()


@pytest.fixture(scope="session")
def sam_database() -> Iterator[str]:
    """A PostgreSQL database of the session's own, migrated, with the runtime image and the build of
    the template for this machine's architecture ready (what `make sam-api` does first)."""
    url = create_database(SERVER_URLS["postgres"], f"invest_sam_{uuid.uuid4().hex[:10]}")
    try:
        prepare(url)
        yield url
    finally:
        drop_database(SERVER_URLS["postgres"], url)


@pytest.fixture(scope="session")
def sam_api(sam_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSam]:
    """`sam local start-api` on the built template, its containers started when a route is first asked
    for (LAZY: the suites reach some of the functions) and kept warm."""
    workdir = tmp_path_factory.mktemp("sam-api")
    with running_sam(["local", "start-api"], sam_database, workdir, "--warm-containers", "LAZY") as sam:
        yield sam


@pytest.fixture
def sam_api_database(sam_database: str) -> Iterator[str]:
    """The database `sam_api` serves, installed as this process's engine: tests that make their users and
    tokens directly (tests/support/signals.py) make them where the containers read."""
    engine = db_engine.build_engine(DatabaseSettings(url=sam_database))
    db_engine.use_engine(engine)
    try:
        yield sam_database
    finally:
        db_engine.use_engine(None)
        engine.dispose()
