"""Pydantic models of the API's requests and responses, and the types every request's values share:
`UtcDatetime` for date-times, `PlainText` and `MultilineText` for free text."""

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from investment_system.domain import BIDI_CONTROLS, CONTROL_CHARACTERS
from investment_system.snapstart import before_snapshot


class ApiModel(BaseModel):
    """Base of the API's request and response models. Each builds its validator on first use rather than
    when its module is imported: a function imports a whole module of models and uses a few, and a cold
    start pays only for those. SnapStart priming builds them all, into the snapshot."""

    model_config = ConfigDict(defer_build=True)


def _build_models(model: type[BaseModel] = ApiModel) -> None:
    for subclass in model.__subclasses__():
        subclass.model_rebuild()
        _build_models(subclass)


before_snapshot(_build_models)


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


UtcDatetime = Annotated[datetime, BeforeValidator(_iso_8601_only), AfterValidator(_utc_within_range)]
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


PlainText = Annotated[str, BeforeValidator(_refuse(_NOT_TEXT))]
"""Free text on one line (names, strategies, query filters): no control character and no bidirectional
override or isolate (U+202A-U+202E, U+2066-U+2069), checked before any trimming."""
MultilineText = Annotated[str, BeforeValidator(_refuse(_NOT_MULTILINE_TEXT))]
"""Free text that may run over lines (notes): as PlainText, but tabs and line breaks are allowed."""
