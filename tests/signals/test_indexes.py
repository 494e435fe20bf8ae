"""Every listing filter is served by an index range scan (SQLite's query plans), so a page costs the same
however many signals the table holds; docs/signals.md ("Listing and its indexes") lists the indexes."""

import pytest
from sqlalchemy import event

from investment_system.db.base import utcnow
from investment_system.db.engine import unit_of_work
from investment_system.models.signals import Direction, SignalStatus
from investment_system.repositories.pagination import encode_cursor
from investment_system.repositories.signals.signals import SignalRepository
from investment_system.schemas.signals import SignalListQuery
from tests.support.signals import make_investor


def _plan(engine, user_id, query: SignalListQuery) -> str:
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with unit_of_work() as session:
            SignalRepository(session).page_of(user_id, query, utcnow())
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = next((s, p) for s, p in statements if s.lstrip().startswith("SELECT"))
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    return " / ".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({}, "ix_signals_user_created (user_id=? AND created_at<?)"),
        ({"symbol": "AAPL"}, "ix_signals_user_symbol_created (user_id=? AND symbol=? AND created_at<?)"),
        ({"strategy": "swing"}, "ix_signals_user_strategy_created (user_id=? AND strategy=? AND created_at<?)"),
        ({"status": SignalStatus.CLOSED}, "ix_signals_user_status_created (user_id=? AND status=? AND created_at<?)"),
        ({"status": SignalStatus.OPEN}, "ix_signals_user_status_created (user_id=? AND status=? AND created_at<?)"),
        ({"status": SignalStatus.EXPIRED}, "ix_signals_user_created (user_id=? AND created_at<?)"),
        ({"direction": Direction.SELL}, "ix_signals_user_created (user_id=? AND created_at<?)"),
    ],
)
def test_a_page_after_a_cursor_is_an_index_range_scan_without_sorting(sqlite_db, filters, index):
    # Given a cursor somewhere down an investor's list
    investor = make_investor()
    cursor = encode_cursor(utcnow(), investor.user_id, f"signals:{investor.user_id}")
    # When the page after it is planned, with each filter
    plan = _plan(sqlite_db.engine, investor.user_id, SignalListQuery(cursor=cursor, **filters))
    # Then SQLite searches the filter's index from the cursor on, in order: no scan, no sort step
    assert plan == f"SEARCH signals USING INDEX {index}"
