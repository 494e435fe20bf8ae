"""The signal domain rules as properties: level rules, return computation, decimal text, effective status."""

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from investment_system.models.signals import Direction, Signal, SignalStatus
from investment_system.schemas.signals import SignalCreate
from investment_system.services.signals.lifecycle import compute_return_pct, level_violations
from investment_system.services.signals.reads import decimal_text, effective_status, return_text

# Every price a request may carry: positive, at most 10 integer and 8 fractional digits.
prices = st.decimals(
    min_value=Decimal("0.00000001"), max_value=Decimal("9999999999.99999999"), places=8, allow_nan=False
)
directions = st.sampled_from(list(Direction))


@given(directions, prices, st.one_of(st.none(), prices), st.one_of(st.none(), prices))
def test_levels_are_accepted_exactly_when_they_bracket_entry_on_the_right_sides(direction, entry, target, stop):
    # Given any levels for a signal
    # When the level rules judge them
    problems = {p["field"] for p in level_violations(direction, entry, target, stop)}
    # Then BUY wants stop < entry < target and SELL target < entry < stop, for the levels given
    if direction is Direction.BUY:
        expected_ok = (target is None or entry < target) and (stop is None or stop < entry)
    else:
        expected_ok = (target is None or target < entry) and (stop is None or entry < stop)
    assert (not problems) == expected_ok
    assert problems <= {"target_price", "stop_loss"}


@given(directions, prices)
def test_a_level_equal_to_entry_is_never_accepted(direction, entry):
    # Given a target or a stop at exactly the entry price
    # Then each is reported, whatever the direction
    assert {p["field"] for p in level_violations(direction, entry, entry, None)} == {"target_price"}
    assert {p["field"] for p in level_violations(direction, entry, None, entry)} == {"stop_loss"}


def _reference_return(direction: Direction, entry: Decimal, exit_price: Decimal) -> Decimal:
    # Decimal arithmetic with far more digits than the inputs can need, rounded half-up once.
    with localcontext() as context:
        context.prec = 200
        change = exit_price - entry if direction is Direction.BUY else entry - exit_price
        return (change * 100 / entry).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


@given(directions, prices, prices)
@example(Direction.BUY, Decimal("187.25"), Decimal("190.1"))  # 1.52202937... -> 1.5220
@example(Direction.BUY, Decimal("8"), Decimal("8.00001"))  # exactly 0.000125 -> 0.0001 (half-up, not even)
@example(Direction.SELL, Decimal("8"), Decimal("8.00001"))  # exactly -0.000125 -> -0.0001 (away from zero)
@example(Direction.BUY, Decimal("3"), Decimal("4"))  # 33.3333...
def test_return_pct_is_the_exact_ratio_rounded_half_up_to_four_digits(direction, entry, exit_price):
    # Given an entry and an exit price
    # When the return is computed
    result = compute_return_pct(direction, entry, exit_price)
    # Then it equals the high-precision reference, with exactly 4 fractional digits
    assert result == _reference_return(direction, entry, exit_price)
    assert result.as_tuple().exponent == -4
    # And BUY and SELL are mirror images
    opposite = Direction.SELL if direction is Direction.BUY else Direction.BUY
    assert compute_return_pct(opposite, entry, exit_price) == -result


def test_return_pct_rounds_ties_half_up_and_away_from_zero():
    # Given returns that land exactly halfway between two 4-digit values
    # Then they round away from zero (half-up), not to even
    assert compute_return_pct(Direction.BUY, Decimal("8"), Decimal("8.00001")) == Decimal("0.0001")
    assert compute_return_pct(Direction.BUY, Decimal("8"), Decimal("8.00003")) == Decimal("0.0004")
    assert compute_return_pct(Direction.BUY, Decimal("8"), Decimal("7.99999")) == Decimal("-0.0001")
    assert return_text(compute_return_pct(Direction.BUY, Decimal("100"), Decimal("100"))) == "0.0000"


@given(prices)
def test_decimal_text_gives_back_the_same_value_without_float_or_exponent(price):
    # Given any price
    text = decimal_text(price)
    # Then its text is plain decimal notation of exactly the same value
    assert "e" not in text.lower()
    assert Decimal(text) == price
    # And a request may send that text back and get the same price
    parsed = SignalCreate.model_validate(
        {"symbol": "X", "direction": "BUY", "confidence": 0.5, "entry_price": text, "timeframe": "1h"}
    ).entry_price
    assert parsed == price


@pytest.mark.parametrize(
    "bad_price", ["0", "-1", "0.000000001", "12345678901", "NaN", "Infinity", "1e400", "abc", True]
)
def test_prices_out_of_range_or_too_precise_are_rejected(bad_price):
    # Given a price that is not positive, has more than 8 fractional digits, or is no number
    # Then the request model rejects it
    with pytest.raises(ValidationError):
        SignalCreate.model_validate(
            {"symbol": "X", "direction": "BUY", "confidence": 0.5, "entry_price": bad_price, "timeframe": "1h"}
        )


@pytest.mark.parametrize(
    ("symbol", "stored"), [(" btc-usd ", "BTC-USD"), ("brk.b", "BRK.B"), ("eur/usd", "EUR/USD"), ("7203", "7203")]
)
def test_symbols_are_upper_cased(symbol, stored):
    body = {"symbol": symbol, "direction": "BUY", "confidence": 0.5, "entry_price": "1", "timeframe": "1h"}
    assert SignalCreate.model_validate(body).symbol == stored


@pytest.mark.parametrize("symbol", ["", "-AAPL", "AA PL", "A" * 21, "ÄPFEL", "$SPY"])
def test_malformed_symbols_are_rejected(symbol):
    body = {"symbol": symbol, "direction": "BUY", "confidence": 0.5, "entry_price": "1", "timeframe": "1h"}
    with pytest.raises(ValidationError):
        SignalCreate.model_validate(body)


def _signal(status: SignalStatus, expires_at: datetime | None) -> Signal:
    return Signal(status=status.value, expires_at=expires_at)


def test_an_open_signal_past_its_expiry_reads_as_expired():
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    # Given OPEN signals expiring before, at and after now, and one without expiry
    # Then only those not yet due still read OPEN
    assert effective_status(_signal(SignalStatus.OPEN, now - timedelta(seconds=1)), now) is SignalStatus.EXPIRED
    assert effective_status(_signal(SignalStatus.OPEN, now), now) is SignalStatus.EXPIRED
    assert effective_status(_signal(SignalStatus.OPEN, now + timedelta(seconds=1)), now) is SignalStatus.OPEN
    assert effective_status(_signal(SignalStatus.OPEN, None), now) is SignalStatus.OPEN
    # And a closed signal stays CLOSED whatever its expiry
    assert effective_status(_signal(SignalStatus.CLOSED, now - timedelta(days=1)), now) is SignalStatus.CLOSED
