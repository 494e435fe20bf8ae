"""The domain's named values, shared by the tables, the API's models and the services: enums and field limits.

Plain Python (no SQLAlchemy, no pydantic), so that a request or response model can name them without
loading the ORM: a function that touches no table imports no `sqlalchemy.orm` (tests/coldstart/test_import_budgets.py).
"""

from __future__ import annotations

from enum import StrEnum


class Direction(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class SignalStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"
    EXPIRED = "EXPIRED"


class Timeframe(StrEnum):
    ONE_MINUTE = "1m"
    FIVE_MINUTES = "5m"
    FIFTEEN_MINUTES = "15m"
    ONE_HOUR = "1h"
    FOUR_HOURS = "4h"
    ONE_DAY = "1d"
    ONE_WEEK = "1w"


# Prices: up to 10 integer and 8 fractional digits. Returns: percentages with 4 fractional digits.
PRICE_DIGITS, PRICE_SCALE = 18, 8
RETURN_DIGITS, RETURN_SCALE = 18, 4
CONFIDENCE_DIGITS, CONFIDENCE_SCALE = 5, 4
SYMBOL_MAX, STRATEGY_MAX, NOTES_MAX = 20, 64, 2000

# Characters no text of a request may hold, as regular-expression character ranges: control characters
# (C0, DEL, C1), and lone surrogates (no database stores them; valid pairs never reach Python as such).
CONTROL_CHARACTERS = "\x00-\x1f\x7f-\x9f\ud800-\udfff"
# Bidirectional overrides and isolates, which make text display in another order than it reads.
BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"


class PlanCode(StrEnum):
    """The plans of the catalogue (the rows migration 0004 seeds)."""

    FREE = "free"
    PRO = "pro"
    ENTERPRISE = "enterprise"


class SubscriptionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    CANCELED = "CANCELED"
