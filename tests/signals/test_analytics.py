"""GET /v1/signals/analytics on SQLite, PostgreSQL and MariaDB: the same figures, to the digit, on each."""

from datetime import UTC, datetime, timedelta

import pytest

from investment_system.db.base import utcnow
from investment_system.services.signals.expiry import expire_overdue_signals
from tests.support.signals import ANALYTICS, CLOSE, DELETE, buy_body, call, create, make_investor, sell_body, set_row


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _signal(investor, body, created_at, *, exit_price=None, closed_at=None):
    signal_id = create(investor, body)["id"]
    if exit_price is not None:
        assert call(CLOSE, investor, signal_id, json_body={"exit_price": exit_price}).status == 200
        set_row(signal_id, closed_at=_at(closed_at))
    set_row(signal_id, created_at=_at(created_at))
    return signal_id


@pytest.fixture
def portfolio(db):
    """One investor's signals over four UTC days, plus noise that analytics must leave out."""
    investor = make_investor()
    levels = {"target_price": None, "stop_loss": None}
    later = (utcnow() + timedelta(hours=1)).isoformat()
    # 2026-11-01: three AAPL, all closed later: +10 %, -5 %, 0 % (neither a win nor a loss)
    _signal(
        investor,
        buy_body(entry_price="100", confidence=0.5, **levels),
        "2026-11-01T00:00:00",
        exit_price="110",
        closed_at="2026-11-02T23:59:59.999999",
    )
    _signal(
        investor,
        buy_body(entry_price="100", confidence=0.6, **levels),
        "2026-11-01T00:01:00",
        exit_price="95",
        closed_at="2026-11-03T00:00:00",
    )
    _signal(
        investor,
        sell_body(entry_price="100", confidence=0.7, **levels),
        "2026-11-01T00:02:00",
        exit_price="100",
        closed_at="2026-11-03T10:00:00",
    )
    # 2026-11-02: MSFT, a SELL closed at +25 % and a BUY still open
    _signal(
        investor,
        sell_body(symbol="MSFT", entry_price="200", confidence=0.8, **levels),
        "2026-11-02T12:00:00",
        exit_price="150",
        closed_at="2026-11-04T12:00:00",
    )
    _signal(investor, buy_body(symbol="MSFT", confidence=0.3, strategy="swing"), "2026-11-02T12:00:01")
    # 2026-11-03: TSLA, one stored EXPIRED by the job, one overdue but still stored OPEN
    stored_expired = _signal(
        investor, sell_body(symbol="TSLA", confidence=0.9, expires_at=later), "2026-11-03T23:59:59"
    )
    set_row(stored_expired, expires_at=utcnow() - timedelta(minutes=1))
    assert expire_overdue_signals() == 1
    overdue = _signal(investor, buy_body(symbol="TSLA", confidence=0.4, expires_at=later), "2026-11-03T23:59:59")
    set_row(overdue, expires_at=utcnow() - timedelta(minutes=1))
    # Noise: a deleted signal of the investor's, and another investor's signal
    deleted = _signal(investor, buy_body(symbol="GONE", confidence=1), "2026-11-02T00:00:00")
    assert call(DELETE, investor, deleted).status == 204
    create(make_investor("other"), buy_body(symbol="AAPL"))
    return investor


def test_analytics_over_all_of_an_investors_signals(portfolio):
    reply = call(ANALYTICS, portfolio)
    assert reply.status == 200, reply.text
    assert reply.json == {
        "total": 7,
        "by_status": {"OPEN": 1, "CLOSED": 4, "EXPIRED": 2},
        "by_direction": {"BUY": 4, "SELL": 3},
        "average_confidence": 0.6,
        "closed": {
            "count": 4,
            "wins": 2,
            "losses": 1,
            "win_rate": 0.5,
            "average_return_pct": "7.5000",
            "best_return_pct": "25.0000",
            "worst_return_pct": "-5.0000",
        },
        "by_symbol": [
            {"symbol": "AAPL", "total": 3, "closed": 3, "win_rate": 0.3333, "average_return_pct": "1.6667"},
            {"symbol": "MSFT", "total": 2, "closed": 1, "win_rate": 1.0, "average_return_pct": "25.0000"},
            {"symbol": "TSLA", "total": 2, "closed": 0, "win_rate": None, "average_return_pct": None},
        ],
        "daily": [
            {"date": "2026-11-01", "created": 3, "closed": 0},
            {"date": "2026-11-02", "created": 2, "closed": 1},
            {"date": "2026-11-03", "created": 2, "closed": 2},
            {"date": "2026-11-04", "created": 0, "closed": 1},
        ],
    }


def test_analytics_filters_by_symbol_strategy_and_creation_range(portfolio):
    aapl = call(ANALYTICS, portfolio, query={"symbol": "aapl"}).json
    assert (aapl["total"], aapl["closed"]["count"], aapl["closed"]["average_return_pct"]) == (3, 3, "1.6667")
    swing = call(ANALYTICS, portfolio, query={"strategy": "swing"}).json
    assert (swing["total"], swing["by_status"], swing["average_confidence"]) == (
        1,
        {"OPEN": 1, "CLOSED": 0, "EXPIRED": 0},
        0.3,
    )
    second_day = call(
        ANALYTICS, portfolio, query={"created_from": "2026-11-02T00:00:00Z", "created_to": "2026-11-03T00:00:00Z"}
    ).json
    assert [s["symbol"] for s in second_day["by_symbol"]] == ["MSFT"]
    assert second_day["daily"] == [
        {"date": "2026-11-02", "created": 2, "closed": 0},
        {"date": "2026-11-04", "created": 0, "closed": 1},
    ]


def test_analytics_of_no_signals_is_all_zero_and_null(db):
    reply = call(ANALYTICS, make_investor())
    assert reply.json == {
        "total": 0,
        "by_status": {"OPEN": 0, "CLOSED": 0, "EXPIRED": 0},
        "by_direction": {"BUY": 0, "SELL": 0},
        "average_confidence": None,
        "closed": {
            "count": 0,
            "wins": 0,
            "losses": 0,
            "win_rate": None,
            "average_return_pct": None,
            "best_return_pct": None,
            "worst_return_pct": None,
        },
        "by_symbol": [],
        "daily": [],
    }


def test_analytics_rejects_a_backwards_date_range(db):
    reply = call(
        ANALYTICS, make_investor(), query={"created_from": "2026-11-03T00:00:00Z", "created_to": "2026-11-01T00:00:00Z"}
    )
    assert (reply.status, reply.error_code) == (422, "INVALID_DATE_RANGE")
