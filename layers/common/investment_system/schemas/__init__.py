"""Pydantic models of the API's requests and responses."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

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
