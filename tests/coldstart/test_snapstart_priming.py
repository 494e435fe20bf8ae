"""SnapStart priming: what it compiles before the snapshot is what a restored container's requests run.

A statement compiled at priming and then compiled again by the first request after a restore would
cost that request the compilation priming was for; these tests count the compiled statements: the
engine's, and the INSERTs the flushes keep in their mappers' caches.
"""

import uuid
from datetime import timedelta
from decimal import Decimal

from investment_system.db.base import Base, utcnow
from investment_system.db.compat import compiled_statement_count, forget_compiled_statements
from investment_system.db.engine import compile_primed_statements, unit_of_work
from investment_system.domain import Direction, SignalStatus
from investment_system.schemas.auth import Credentials, Registration
from investment_system.schemas.billing import PaymentEvent
from investment_system.schemas.signals import SignalClose, SignalCreate, SignalFilters, SignalListQuery
from investment_system.schemas.users import PasswordChange
from investment_system.services.accounts.credentials import change_password, login, register
from investment_system.services.accounts.login_sessions import rotate
from investment_system.services.accounts.revocation import logout
from investment_system.services.accounts.tokens import verify_access_token
from investment_system.services.billing.subscriptions import change_plan
from investment_system.services.billing.usage import usage_today
from investment_system.services.billing.webhooks import receive_payment_event
from investment_system.services.signals import lifecycle as signal_changes
from investment_system.services.signals.analytics import signal_analytics
from investment_system.services.signals.quota import create_signal_within_quota
from investment_system.services.signals.reads import list_signals
from investment_system.services.system.housekeeping import purge_expired_records
from investment_system.services.system.idempotency import fingerprint, run_idempotently
from tests.support.billing import paying
from tests.support.signals import make_investor

BUY = {"symbol": "AAPL", "direction": "BUY", "confidence": "0.6", "entry_price": "100", "timeframe": "1h"}


def _compiled_statements(engine) -> int:
    """Statements compiled for the engine's dialect: its own, and the flushes' (each mapper keeps those)."""
    return compiled_statement_count(engine, Base.registry)


def _primed_container(db) -> int:
    """The engine of a restored container: what priming compiled, nothing else. How many statements."""
    forget_compiled_statements(db.engine, Base.registry)
    compile_primed_statements(db.engine)
    return _compiled_statements(db.engine)


def _assert_requests_compiled_nothing_more(db, primed: int) -> None:
    if db.backend == "mysql":
        # MySQL's dialect learns what its SQL looks like at its first connection: priming compiles none
        assert primed == 0
    else:
        assert primed > 0
        assert _compiled_statements(db.engine) == primed


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
    # Given an investor, and a restored container whose engine holds what priming compiled
    investor = make_investor()
    primed = _primed_container(db)
    # When the container changes and reads signals
    _change_signals_as_requests_do(investor.user_id)
    # Then those requests compiled no statement of the engine's (SQLite, PostgreSQL): priming had
    _assert_requests_compiled_nothing_more(db, primed)


def _created(body: str) -> tuple[int, str]:
    """A step's result (here its JSON body already) as an answer: 201 and the body."""
    return 201, body


def test_a_request_with_an_idempotency_key_and_its_retry_run_the_sql_that_priming_compiled(db):
    # Given an investor, and a restored container whose engine holds what priming compiled
    investor = make_investor()
    primed = _primed_container(db)
    request = fingerprint("POST /v1/things", "{}")

    def perform(_session) -> str:
        return '{"done": true}'

    # When a request with an Idempotency-Key is answered, then retried
    first = run_idempotently(investor.user_id, "key-1", request, _created, perform)
    retry = run_idempotently(investor.user_id, "key-1", request, _created, perform)
    # Then the retry replays the answer, and neither compiled a statement of the engine's (SQLite, PostgreSQL)
    assert (first.replayed, retry.replayed, retry.body) == (False, True, '{"done": true}')
    _assert_requests_compiled_nothing_more(db, primed)


def test_sign_in_refresh_logout_and_password_change_run_the_sql_priming_compiled_but_the_flushed_updates(db):
    # Given a registered account, and a restored container whose engine holds what priming compiled
    email, password, new_password = "primed@example.com", "Correct-Horse-42!", "Battery-Staple-43?"
    user = register(Registration(email=email, password=password))
    primed = _primed_container(db)
    # When the account signs in, refreshes its tokens, signs out, signs in again and changes its password
    pair = rotate(login(Credentials(email=email, password=password)).refresh_token)
    logout(user.id, uuid.UUID(verify_access_token(pair.access_token)["sid"]), pair.refresh_token)
    login(Credentials(email=email, password=password))
    change_password(user.id, PasswordChange(current_password=password, new_password=new_password))
    # Then it compiled two statements only: the UPDATEs the password change's flush writes (the new hash,
    # the new token epoch), which priming does not compile
    if db.backend == "mysql":
        assert primed == 0  # as above: priming compiles nothing there
    else:
        assert _compiled_statements(db.engine) == primed + 2


def test_filtered_listings_and_the_usage_run_the_sql_that_priming_compiled(db):
    # Given an investor, and a restored container whose engine holds what priming compiled
    investor = make_investor()
    primed = _primed_container(db)
    # When the investor lists their signals by a symbol and a status, by a direction, and reads the usage
    list_signals(investor.user_id, SignalListQuery(symbol="AAPL", status=SignalStatus.OPEN))
    list_signals(investor.user_id, SignalListQuery(direction=Direction.SELL))
    usage_today(investor.user_id)
    # Then none of it compiled a statement of the engine's (SQLite, PostgreSQL): priming had
    _assert_requests_compiled_nothing_more(db, primed)


def test_a_housekeeping_run_runs_the_sql_that_priming_compiled(db):
    # Given an investor signed in (a session, a refresh token) who sent a request with an Idempotency-Key,
    # and a restored container whose engine holds what priming compiled
    investor = make_investor()
    run_idempotently(investor.user_id, "key-1", fingerprint("POST /v1/things", "{}"), _created, lambda _: "{}")
    primed = _primed_container(db)
    # When housekeeping runs long after all of it expired
    removed = purge_expired_records(now=utcnow() + timedelta(days=400))
    # Then it purged them, with statements priming had compiled (SQLite, PostgreSQL)
    assert (removed["idempotency_records"], removed["refresh_tokens"], removed["user_sessions"]) == (1, 1, 1)
    _assert_requests_compiled_nothing_more(db, primed)


def test_a_paid_invoice_runs_the_sql_that_priming_compiled_but_the_updates_its_flush_writes(db):
    # Given an investor who started a checkout for a dearer plan, and a restored, primed container
    investor = make_investor()
    with unit_of_work() as session:
        started = change_plan(session, investor.user_id, "pro")
    primed = _primed_container(db)
    # When the provider's invoice.paid for the checkout arrives
    data = {"user_id": str(investor.user_id), **paying(started.checkout.model_dump(mode="json"))}
    receive_payment_event(PaymentEvent(id=f"evt_{uuid.uuid4().hex}", type="invoice.paid", data=data))
    # Then it compiled two statements only: the UPDATEs its flush writes (the event's outcome, the
    # subscription's plan), whose columns are the attributes changed, which priming does not compile
    if db.backend == "mysql":
        assert primed == 0  # as above: priming compiles nothing there
    else:
        assert _compiled_statements(db.engine) == primed + 2
