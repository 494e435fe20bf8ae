"""Faults during load: servers of the run's own that it stops and starts again on a schedule.

The load run never touches the machine's shared servers (other work uses them): a PostgreSQL
instance is created for the run (initdb into a temporary directory, on a free port; as the
`postgres` user when run as root, since PostgreSQL refuses to run as root) and a Redis server is
started on a free port. `FaultSchedule` stops one at `down_after` seconds into the load and starts
it again at `up_after`, writing to the ledger when it went down and when it answered again.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Protocol

from invest_dev.load.ledger import Ledger

READY_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _postgres_program(name: str) -> str:
    """A PostgreSQL server program (initdb, pg_ctl): Debian keeps them out of PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        raise SystemExit(f"load: {name} not found; install PostgreSQL (apt-get install postgresql)")
    return found[-1]


class Server(Protocol):
    """What a fault stops and starts."""

    name: str

    def stop(self) -> None: ...

    def start(self) -> None: ...


class ScratchPostgres:
    """A PostgreSQL instance of the run's own, trusting local connections of user postgres."""

    name = "postgres"

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="invest-load-pg-"))
        self.data = self.directory / "data"
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_postgres:
            shutil.chown(self.directory, "postgres")
        self._run(_postgres_program("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+pg8000://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as_postgres, *command], check=True, capture_output=True, timeout=READY_TIMEOUT_SECONDS)

    def start(self) -> None:
        """Start it and return once it accepts connections (pg_ctl --wait)."""
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c max_connections=200"
        log = str(self.directory / "server.log")
        self._run(_postgres_program("pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "--wait", "start")

    def stop(self) -> None:
        """A fast shutdown, as an operator's or RDS's: sessions are ended (57P01), new ones refused."""
        self._run(_postgres_program("pg_ctl"), "-D", str(self.data), "-m", "fast", "--wait", "stop")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class ScratchRedis:
    """A Redis server of the run's own (no persistence)."""

    name = "redis"

    def __init__(self) -> None:
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        program = shutil.which("redis-server")
        if program is None:
            raise SystemExit("load: redis-server not found; install Redis (apt-get install redis-server)")
        command = [program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not self._answers():
            if time.monotonic() > deadline:
                raise SystemExit(f"load: redis-server did not answer on port {self.port}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(READY_TIMEOUT_SECONDS)
            self._process = None

    def destroy(self) -> None:
        self.stop()


class FaultSchedule:
    """Stops `server` at `down_after` seconds after `begin()` and starts it again at `up_after`."""

    def __init__(self, server: Server, down_after: float, up_after: float, ledger: Ledger) -> None:
        self.server = server
        self.down_after, self.up_after = down_after, up_after
        self.ledger = ledger
        self._thread = threading.Thread(target=self._run, name=f"fault-{server.name}", daemon=True)
        self._started = 0.0
        self.error: BaseException | None = None

    def begin(self) -> None:
        self._started = time.monotonic()
        self._thread.start()

    def _sleep_until(self, offset: float) -> None:
        time.sleep(max(0.0, self._started + offset - time.monotonic()))

    def _run(self) -> None:
        try:
            self._sleep_until(self.down_after)
            down_at = time.time()
            self.server.stop()
            print(f"load: {self.server.name} stopped", flush=True)
            self._sleep_until(self.up_after)
            self.server.start()
            up_at = time.time()
            print(f"load: {self.server.name} started again", flush=True)
            self.ledger.write("fault", what=self.server.name, down_at=down_at, up_at=up_at)
        except BaseException as error:  # reported by the run, which fails
            self.error = error

    def join(self) -> None:
        self._thread.join()
