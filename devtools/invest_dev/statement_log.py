"""What an engine's PostgreSQL connections send, statement by statement, as the server receives them.

SQLAlchemy's cursor events miss what the driver sends on its own: pg8000 opens a transaction with
`begin transaction` before a statement, `commit` is a statement, and a pool's pre-ping is one more.
So a pool listener wraps each pg8000 connection's two ways of sending a statement (the simple and the
extended query protocol), and the log sees every statement: the round-trip budgets' count
(tests/db/test_round_trips.py) and the one `make bench` prints beside its PostgreSQL timings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

# The pg8000 connection's methods that send one statement each (`execute_simple`: one round trip of
# the simple query protocol; `execute_unnamed`: an unnamed statement of the extended protocol).
_SENDING = ("execute_simple", "execute_unnamed")


class StatementLog:
    """The statements sent while `recording()` is open, by the connections `engine` opens from now on
    (those already in its pool are closed first). `close()` stops watching."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.driver != "pg8000":
            raise ValueError(f"the statement log reads pg8000 connections, not {engine.dialect.driver}")
        self.engine = engine
        self.statements: list[str] = []
        self._recording = False
        engine.dispose()
        event.listen(engine, "connect", self._watch, insert=True)  # before the engine's own: its SETs show

    def close(self) -> None:
        event.remove(self.engine, "connect", self._watch)

    @contextmanager
    def recording(self) -> Iterator[list[str]]:
        """Record from now until the block ends; yields the list it fills, a new one each time."""
        self.statements = []
        self._recording = True
        try:
            yield self.statements
        finally:
            self._recording = False

    def _watch(self, dbapi_connection: Any, _record: Any) -> None:
        for name in _SENDING:
            original = getattr(type(dbapi_connection), name)
            setattr(dbapi_connection, name, self._logging(dbapi_connection, original))

    def _logging(self, dbapi_connection: Any, send: Callable[..., Any]) -> Callable[..., Any]:
        def sending(statement: str, *args: Any, **kwargs: Any) -> Any:
            if self._recording:
                self.statements.append(" ".join(statement.split()))
            return send(dbapi_connection, statement, *args, **kwargs)

        return sending
