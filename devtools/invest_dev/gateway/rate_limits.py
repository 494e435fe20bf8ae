"""The rate-limit store every container of `invest serve` shares, when RATE_LIMIT_BACKEND is `memory`.

Each function runs in processes of its own, so the `memory` backend's buckets, kept in a process,
would give a client its limit once per container: a parallel client would get several times its
limit. The gateway makes one SQLite file per run instead, and each container's limiter admits in it
(`investment_system.services.system.rate_limit.share_memory_backend`): the same sliding window as every
backend (`admit_into`'s rule, here in SQL), in one write transaction (BEGIN IMMEDIATE), which SQLite
runs one at a time across processes; the limits plan changes store are a table of the same file.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from investment_system.services.system.rate_limit import WINDOW_SECONDS, Window

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    key TEXT NOT NULL,
    second INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (key, second)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS limits (
    key TEXT PRIMARY KEY,
    requests_per_minute INTEGER NOT NULL,
    until INTEGER NOT NULL
) WITHOUT ROWID
"""
# Every this many admissions, a container drops every subject's buckets that left the window.
_SWEEP_EVERY = 1000


class SharedWindows:
    """Buckets in a SQLite file that several processes admit into."""

    name = "memory"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._admissions = 0

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # Autocommit mode: the transactions are the explicit BEGIN IMMEDIATE below.
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")  # counters of a local run: speed over durability
            connection.executescript(_SCHEMA)
            self._connection = connection
        return self._connection

    def admit(self, key: str, limit: int, second: int, limit_key: str | None = None) -> Window:
        with self._lock:
            connection = self._connect()
            self._admissions += 1
            connection.execute("BEGIN IMMEDIATE")
            try:
                if self._admissions % _SWEEP_EVERY == 0:
                    connection.execute("DELETE FROM buckets WHERE second < ?", (second - WINDOW_SECONDS,))
                else:
                    connection.execute(
                        "DELETE FROM buckets WHERE key = ? AND second < ?", (key, second - WINDOW_SECONDS)
                    )
                if limit_key is not None:
                    stored = connection.execute(
                        "SELECT requests_per_minute FROM limits WHERE key = ? AND until > ?", (limit_key, second)
                    ).fetchone()
                    limit = stored[0] if stored else limit
                count, oldest = connection.execute(
                    "SELECT COALESCE(SUM(requests), 0), MIN(second) FROM buckets WHERE key = ?", (key,)
                ).fetchone()
                oldest = second if oldest is None else min(oldest, second)  # as admit_into's
                if count >= limit:
                    window = Window(admitted=False, count=count, oldest=oldest, limit=limit)
                else:
                    connection.execute(
                        "INSERT INTO buckets (key, second, requests) VALUES (?, ?, 1) "
                        "ON CONFLICT (key, second) DO UPDATE SET requests = requests + 1",
                        (key, second),
                    )
                    window = Window(admitted=True, count=count + 1, oldest=oldest, limit=limit)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            return window

    def set_limit(self, limit_key: str, limit: int, until: int) -> None:
        with self._lock:
            self._connect().execute(
                "INSERT INTO limits (key, requests_per_minute, until) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET requests_per_minute = excluded.requests_per_minute, "
                "until = excluded.until",
                (limit_key, limit, until),
            )

    def ping(self) -> None:
        with self._lock:
            self._connect().execute("SELECT 1").fetchone()
