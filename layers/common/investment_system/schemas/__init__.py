"""Pydantic models of the API's requests and responses."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import ConfigDict, Field

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
