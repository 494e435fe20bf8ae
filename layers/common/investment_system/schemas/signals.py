"""Request and response models of the signals API.

Prices and `confidence` arrive as JSON numbers or decimal strings; prices leave as decimal strings,
`return_pct` with exactly 4 fractional digits, `confidence` and the analytics' ratios as numbers from 0 to 1.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Self, TypedDict

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema, model_validator

from investment_system.domain import (
    CONFIDENCE_SCALE,
    NOTES_MAX,
    PRICE_DIGITS,
    PRICE_SCALE,
    STRATEGY_MAX,
    SYMBOL_MAX,
    Direction,
    SignalStatus,
    Timeframe,
)
from investment_system.schemas import DEFAULT_LIMIT, MAX_LIMIT, ApiModel, MultilineText, TrimmedText, UtcDatetime

SYMBOL_PATTERN = rf"^[A-Z0-9][A-Z0-9./-]{{0,{SYMBOL_MAX - 1}}}$"


def _normalise_symbol(value: Any) -> Any:
    # Only ASCII is upper-cased: str.upper() would map a letter of another alphabet onto ASCII ones ("ß" to
    # "SS", the dotless i U+0131 to "I"), so that such a symbol passed for another; left as is, the pattern refuses it.
    return value.strip(" \t\r\n").upper() if isinstance(value, str) and value.isascii() else value


def _decimal_text(integer_digits: int, places: int) -> Any:
    """A decimal sent as a string: digits, and a point with digits, nothing else (no sign, exponent, space,
    underscore or other script's digits, which Decimal() would read). A number is left to the bounds."""
    shape = re.compile(rf"[0-9]{{1,{integer_digits}}}(\.[0-9]{{1,{places}}})?")

    def check(value: Any) -> Any:
        if isinstance(value, str) and not shape.fullmatch(value):
            raise ValueError(
                f"must be a decimal string of at most {integer_digits} integer and {places} fractional digits"
            )
        return value

    return check


_PRICE_INTEGER_DIGITS = PRICE_DIGITS - PRICE_SCALE
# In the document: a string of that shape that is not zero, or a number within the bounds with at most
# PRICE_SCALE fractional digits (a multiple of 1e-8, as the exact literal the API reads).
_PRICE_SCHEMA = {
    "anyOf": [
        {
            "type": "string",
            "pattern": rf"^(?!0*(\.0*)?$)[0-9]{{1,{_PRICE_INTEGER_DIGITS}}}(\.[0-9]{{1,{PRICE_SCALE}}})?$",
        },
        {
            "type": "number",
            "exclusiveMinimum": 0,
            "exclusiveMaximum": 10**_PRICE_INTEGER_DIGITS,
            "multipleOf": float(Decimal(1).scaleb(-PRICE_SCALE)),
        },
    ],
    "description": f"A positive price, at most {_PRICE_INTEGER_DIGITS} integer and {PRICE_SCALE} fractional digits: a "
    "decimal string (as responses give it) or a JSON number.",
    "examples": ["187.25"],
}
_CONFIDENCE_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": rf"^(0(\.[0-9]{{1,{CONFIDENCE_SCALE}}})?|1(\.0{{1,{CONFIDENCE_SCALE}}})?)$"},
        {"type": "number", "minimum": 0, "maximum": 1, "multipleOf": float(Decimal(1).scaleb(-CONFIDENCE_SCALE))},
    ],
    "description": f"0 to 1, at most {CONFIDENCE_SCALE} fractional digits: a decimal string or a JSON number.",
    "examples": ["0.75"],
}

Price = Annotated[
    Decimal,
    Field(gt=0, max_digits=PRICE_DIGITS, decimal_places=PRICE_SCALE),
    BeforeValidator(_decimal_text(_PRICE_INTEGER_DIGITS, PRICE_SCALE)),
    WithJsonSchema(_PRICE_SCHEMA),
]


def _symbol_schema(spaces: str) -> WithJsonSchema:
    """What a symbol's check accepts as sent, before it is trimmed of `spaces` and upper-cased."""
    return WithJsonSchema(
        {
            "type": "string",
            "pattern": rf"^[{spaces}]*[A-Za-z0-9][A-Za-z0-9./-]{{0,{SYMBOL_MAX - 1}}}[{spaces}]*$",
            "description": f"An instrument symbol, matched and stored trimmed and upper-cased: {SYMBOL_PATTERN}.",
            "examples": ["AAPL", "BTC-USD"],
        }
    )


_Symbol = Annotated[str, BeforeValidator(_normalise_symbol), StringConstraints(pattern=SYMBOL_PATTERN)]
Symbol = Annotated[_Symbol, _symbol_schema(r" \t\r\n")]
Strategy = Annotated[TrimmedText, StringConstraints(min_length=1, max_length=STRATEGY_MAX)]
Notes = Annotated[MultilineText, StringConstraints(max_length=NOTES_MAX)]
Confidence = Annotated[
    Decimal,
    Field(ge=0, le=1, decimal_places=CONFIDENCE_SCALE),
    BeforeValidator(_decimal_text(1, CONFIDENCE_SCALE)),
    WithJsonSchema(_CONFIDENCE_SCHEMA),
]
DecimalString = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", examples=["187.25"])]
# The contract gives confidence and the analytics' ratios as numbers from 0 to 1 (not prices): they stay numbers.
ConfidenceValue = Annotated[
    float, Field(ge=0, le=1, description="0 to 1, at most 4 fractional digits.", examples=[0.75])
]
Ratio = Annotated[float, Field(ge=0, le=1, description="0 to 1, 4 fractional digits.", examples=[0.6667])]
ReturnPct = Annotated[
    str, Field(pattern=r"^-?[0-9]+\.[0-9]{4}$", description="Percent, 4 fractional digits.", examples=["3.2500"])
]


# The `{id}` of /v1/signals/{id}, documented as the UUID it is. Any text is accepted here: an id that is
# no UUID names no signal, so the service answers 404 SIGNAL_NOT_FOUND, as for another user's signal.
SignalId = Annotated[
    str,
    Path(
        alias="id",
        description="The signal's id.",
        examples=["0b0f6c1e-4a59-4e0a-9d36-2f4f8c2b7a10"],
        json_schema_extra={"format": "uuid"},
    ),
]


class _Request(ApiModel):
    model_config = ConfigDict(extra="forbid")


class SignalCreate(_Request):
    symbol: Symbol
    direction: Direction
    confidence: Confidence
    entry_price: Price
    target_price: Price | None = None
    stop_loss: Price | None = None
    timeframe: Timeframe
    strategy: Strategy | None = None
    notes: Notes | None = None
    expires_at: UtcDatetime | None = Field(default=None, description="When given, in the future.")


class SignalUpdate(_Request):
    """Only the fields sent change; an explicit null clears a level, the notes or the expiry."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    target_price: Price | None = None
    stop_loss: Price | None = None
    notes: Notes | None = None
    expires_at: UtcDatetime | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("send at least one of target_price, stop_loss, notes, expires_at")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class SignalClose(_Request):
    exit_price: Price


# Query parameters of the list and analytics routes.
# A query parameter holds no control character (http/request_parameters.py): only spaces are trimmed.
SymbolParam = Annotated[
    Annotated[_Symbol, _symbol_schema(" ")] | None, Query(description="Only this symbol (matched upper-cased).")
]
StrategyParam = Annotated[Strategy | None, Query(description="Only this strategy (exact match).")]
CreatedFromParam = Annotated[
    UtcDatetime | None, Query(description="Created at or after this instant; ISO-8601, UTC when no offset.")
]
CreatedToParam = Annotated[
    UtcDatetime | None, Query(description="Created before this instant; ISO-8601, UTC when no offset.")
]
DirectionParam = Annotated[Direction | None, Query(description="Only BUY or only SELL signals.")]
StatusParam = Annotated[
    SignalStatus | None,
    Query(description="Effective status: an OPEN signal past its expires_at counts as EXPIRED."),
]
LimitParam = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
CursorParam = Annotated[str | None, Query(max_length=1024, description="next_cursor of the previous page.")]


@dataclass(frozen=True, kw_only=True)
class SignalFilters:
    """Filters shared by the list and the analytics of a user's signals (already validated)."""

    symbol: str | None = None
    strategy: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class SignalListQuery(SignalFilters):
    direction: Direction | None = None
    status: SignalStatus | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


class Signal(ApiModel):
    id: uuid.UUID
    user_id: uuid.UUID
    symbol: str
    direction: Direction
    confidence: ConfidenceValue
    entry_price: DecimalString
    target_price: DecimalString | None
    stop_loss: DecimalString | None
    timeframe: Timeframe
    strategy: str | None
    notes: str | None
    status: SignalStatus = Field(description="Never OPEN once expires_at has passed, even before the expiry job ran.")
    exit_price: DecimalString | None
    return_pct: ReturnPct | None
    expires_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SignalPage(ApiModel):
    items: list[Signal]
    next_cursor: str | None


# One changed field of a history entry (a TypedDict: "from" is a Python keyword).
FieldChange = TypedDict("FieldChange", {"from": Any, "to": Any})


class HistoryAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    CLOSED = "closed"
    DELETED = "deleted"
    EXPIRED = "expired"


class HistoryEntry(ApiModel):
    action: HistoryAction
    changes: dict[str, FieldChange] = Field(description="Per changed field, its old and new value.")
    actor_id: uuid.UUID | None = Field(description="Who made the change; null for the expiry job.")
    correlation_id: str | None
    at: datetime


class SignalHistory(ApiModel):
    items: list[HistoryEntry]
