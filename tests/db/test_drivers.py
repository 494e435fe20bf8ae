"""What a statement costs on the wire: pg8000 connections send a statement with parameters whole, in one
round trip (db/drivers.py), and stay usable after a statement fails."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import exc, text

from invest_dev.bench.round_trips import delayed
from investment_system.db.engine import build_engine, get_engine
from investment_system.settings import DatabaseSettings

ON_POSTGRES = pytest.mark.parametrize("db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
DELAY_S = 0.05


@ON_POSTGRES
def test_a_statement_with_parameters_is_answered_after_one_round_trip(db):
    # Given PostgreSQL behind a delay on every packet sent to it, and a connection with a transaction open
    url = get_engine().url
    with delayed(url.port or 5432, DELAY_S * 1000) as delay:
        engine = build_engine(DatabaseSettings(url=url.set(port=delay.port).render_as_string(hide_password=False)))
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                # When it sends a statement with parameters
                started = time.perf_counter()
                answer = connection.execute(
                    text("SELECT CAST(:a AS integer) + 1, CAST(:b AS text)"), {"a": 41, "b": "x"}
                )
                rows = answer.all()
                elapsed = time.perf_counter() - started
        finally:
            engine.dispose()
    # Then the answer came after one delayed round trip, not three (parse; describe and bind; execute)
    assert rows == [(42, "x")]
    assert DELAY_S <= elapsed < 2 * DELAY_S, f"{elapsed * 1000:.0f} ms for one statement"


@ON_POSTGRES
def test_a_failed_statement_leaves_the_connection_usable(db):
    # Given a connection
    with get_engine().connect() as connection:
        # When a statement with parameters fails in the database
        with pytest.raises(exc.ProgrammingError, match="no_such_function"):
            connection.execute(text("SELECT no_such_function(:a)"), {"a": 1})
        connection.rollback()
        # Then the next one on the same connection is answered
        assert connection.execute(text("SELECT CAST(:a AS integer) * 2"), {"a": 21}).scalar() == 42


@ON_POSTGRES
def test_a_statement_returning_nothing_reports_its_row_count(db):
    # Given a table of three rows
    with get_engine().connect() as connection:
        connection.execute(text("CREATE TEMPORARY TABLE counted (n integer)"))
        connection.execute(text("INSERT INTO counted VALUES (1), (2), (3)"))
        # When a statement with parameters changes two of them
        changed = connection.execute(text("UPDATE counted SET n = n + 10 WHERE n >= :least"), {"least": 2})
        # Then its row count says two, and the change is there
        assert changed.rowcount == 2
        assert connection.execute(text("SELECT sum(n) FROM counted")).scalar() == 26
        connection.rollback()
