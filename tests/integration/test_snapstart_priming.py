"""SnapStart priming: what it compiles before the snapshot is what a restored container's requests run.

A statement compiled at priming and then compiled again by the first request after a restore would
cost that request the compilation priming was for; these tests count the engine's compiled statements.
"""

from decimal import Decimal

from signal_support import make_investor

from investment_system.db.engine import compile_primed_statements, unit_of_work
from investment_system.schemas.signals import SignalClose, SignalCreate, SignalFilters
from investment_system.services import signals as signal_changes
from investment_system.services.signal_analytics import signal_analytics
from investment_system.services.signal_quota import create_signal_within_quota

BUY = {"symbol": "AAPL", "direction": "BUY", "confidence": "0.6", "entry_price": "100", "timeframe": "1h"}


def _compiled_statements(engine) -> int:
    return len(engine._compiled_cache)


def _change_signals_as_requests_do(user_id) -> None:
    """Two signals created within the quota (the count, the stream event's number), one closed, the other
    deleted; the analytics of all the user's signals and of those created since a date."""
    with unit_of_work() as session:
        closed = create_signal_within_quota(session, user_id, SignalCreate.model_validate(BUY))
    with unit_of_work() as session:
        deleted = create_signal_within_quota(session, user_id, SignalCreate.model_validate(BUY))
    signal_changes.close_signal(user_id, str(closed.id), SignalClose(exit_price=Decimal("110")))
    signal_changes.delete_signal(user_id, str(deleted.id))
    signal_analytics(user_id, SignalFilters())
    signal_analytics(user_id, SignalFilters(created_from=closed.created_at))


def test_changes_and_analytics_of_signals_run_the_sql_that_priming_compiled(db):
    # Given an investor, and the container's engine with nothing compiled
    investor = make_investor()
    engine = db.engine
    engine.clear_compiled_cache()
    # When priming runs before the snapshot, then the restored container changes and reads signals
    compile_primed_statements(engine)
    primed = _compiled_statements(engine)
    _change_signals_as_requests_do(investor.user_id)
    # Then on SQLite and PostgreSQL those requests compiled no statement of the engine's: priming had
    if db.backend != "mysql":
        assert primed > 0
        assert _compiled_statements(engine) == primed
    # and on MySQL, whose dialect learns what its SQL looks like at its first connection, priming compiled none
    else:
        assert primed == 0
