"""Pydantic models of the API's requests and responses, and the types every request's values share:
`UtcDatetime` for date-times, `TrimmedText` and `MultilineText` for free text."""

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema

from investment_system.domain import BIDI_CONTROLS, CONTROL_CHARACTERS


class ApiModel(BaseModel):
    """Base of the API's request and response models. Each builds its validator on first use rather than
    when its module is imported: a function imports a whole module of models and uses a few, and a cold
    start pays only for those. SnapStart priming builds those its sample requests use (entrypoints/priming.py)."""

    model_config = ConfigDict(defer_build=True)


# Page sizes of every list route.
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


# Response models whose fields have defaults: every field is still always sent, so each is documented as
# required (and generated clients type it as always there).
ALWAYS_SENT = ConfigDict(json_schema_serialization_defaults_required=True)

# A time the API writes as text (utc_timestamp), documented as the date-time it is.
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"}, examples=["2026-11-26T10:00:00Z"])]


def utc_timestamp() -> str:
    """Now, as the API writes the time it answered (whole seconds, UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# The instants a request may name, once converted to UTC: the years 2 to 9998. Years 1 and 9999 are the
# edges of what Python's datetime holds, where converting an offset to UTC, or a day's arithmetic, overflows.
EARLIEST_INSTANT = datetime(2, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
_ISO_8601_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_8601_only(value: Any) -> Any:
    # pydantic would read numbers and numeric strings as Unix timestamps; the contract speaks ISO-8601.
    if isinstance(value, int | float) or (isinstance(value, str) and not _ISO_8601_START.match(value)):
        raise ValueError("must be an ISO-8601 date-time, e.g. 2026-11-26T10:00:00Z")
    return value


def _utc_within_range(value: datetime) -> datetime:
    """The instant in UTC (read as UTC without an offset, the contract's time zone); ValueError when it
    lies outside the years 2 to 9998, so that no later conversion or arithmetic overflows."""
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST_INSTANT <= utc <= LATEST_INSTANT:
        raise ValueError("must lie between the years 2 and 9998 once converted to UTC")
    return utc


# The years the document admits: those whose every instant lies within the range whatever the offset.
_DATE_TIME_SCHEMA = {"type": "string", "format": "date-time", "pattern": "^(?!000[0-2]-|999[89]-)[0-9]{4}-"}

UtcDatetime = Annotated[
    datetime,
    BeforeValidator(_iso_8601_only),
    AfterValidator(_utc_within_range),
    WithJsonSchema(_DATE_TIME_SCHEMA, mode="validation"),
]
"""Every date-time a request gives (body or query): ISO-8601 only, returned in UTC, within the range above."""

_NOT_TEXT = re.compile(f"[{CONTROL_CHARACTERS}{BIDI_CONTROLS}]")
_NOT_MULTILINE_TEXT = re.compile(f"(?![\t\n\r])[{CONTROL_CHARACTERS}{BIDI_CONTROLS}]")


def _refuse(pattern: re.Pattern[str]) -> Any:
    def check(value: Any) -> Any:
        found = pattern.search(value) if isinstance(value, str) else None
        if found:
            raise ValueError(f"must not contain the control or bidirectional character U+{ord(found.group()):04X}")
        return value

    return check


# The same rules as JSON Schema patterns, which the document shows and the models check too. Surrogates are
# left out: a pattern may see a pair's halves as characters (the body reader refuses unpaired ones).
_REFUSED = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_REFUSED_IN_MULTILINE = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
# What trimming removes once control characters are refused: Unicode's other spaces.
_SPACES = r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

TrimmedText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=rf"^[^{_REFUSED}]*[^{_REFUSED}{_SPACES}][^{_REFUSED}]*$"),
    BeforeValidator(_refuse(_NOT_TEXT)),
]
"""Free text on one line (names, strategies, query filters): no control character and no bidirectional
override or isolate (U+202A-U+202E, U+2066-U+2069), checked before the surrounding spaces are trimmed;
not blank."""
MultilineText = Annotated[
    str, StringConstraints(pattern=rf"^[^{_REFUSED_IN_MULTILINE}]*$"), BeforeValidator(_refuse(_NOT_MULTILINE_TEXT))
]
"""Free text that may run over lines (notes): as TrimmedText, but tabs and line breaks are allowed, nothing
is trimmed, and it may be empty."""
