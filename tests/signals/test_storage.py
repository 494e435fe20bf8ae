"""Exact decimals in the signals table on SQLite, PostgreSQL and MariaDB: values, order, sums."""

import uuid
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from investment_system.db.decimals import ExactSum
from investment_system.db.engine import unit_of_work
from investment_system.models.signals import Signal
from tests.support.signals import make_investor

prices = st.decimals(
    min_value=Decimal("0.00000001"), max_value=Decimal("9999999999.99999999"), places=8, allow_nan=False
)
returns = st.decimals(
    min_value=Decimal("-99999999999999.9999"), max_value=Decimal("99999999999999.9999"), places=4, allow_nan=False
)


def _row(user_id: uuid.UUID, entry: Decimal, return_pct: Decimal | None = None) -> Signal:
    return Signal(
        user_id=user_id,
        symbol="X",
        direction="BUY",
        confidence=Decimal("0.5"),
        entry_price=entry,
        timeframe="1h",
        status="CLOSED" if return_pct is not None else "OPEN",
        return_pct=return_pct,
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(prices, min_size=1, max_size=6))
def test_prices_read_back_exactly_and_sort_numerically(db, entries):
    # Given signals stored with arbitrary 8-digit prices
    investor = make_investor()
    with unit_of_work() as session:
        session.add_all([_row(investor.user_id, entry) for entry in entries])
    # When they are read back ordered by price
    with unit_of_work() as session:
        stored = session.scalars(
            select(Signal.entry_price).where(Signal.user_id == investor.user_id).order_by(Signal.entry_price)
        ).all()
        smallest = session.scalar(select(func.min(Signal.entry_price)).where(Signal.user_id == investor.user_id))
    # Then every value is exact, in numeric order, and MIN agrees
    assert stored == sorted(entries)
    assert smallest == min(entries)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(returns, min_size=1, max_size=12))
def test_sums_are_exact_even_where_sqlite_integers_would_overflow(db, values):
    # Given closed signals with returns up to the column's limit (a dozen of them overflow 64 bits)
    investor = make_investor()
    with unit_of_work() as session:
        session.add_all([_row(investor.user_id, Decimal(1), value) for value in values])
    # When the database sums them
    with unit_of_work() as session:
        total = ExactSum(Signal.return_pct, "total")
        row = session.execute(select(*total.columns).where(Signal.user_id == investor.user_id)).one()
    # Then the sum is exact
    assert total.value(row) == sum(values, Decimal(0))
