"""Declarative base and the column types every table shares, portable across SQLite, PostgreSQL and MySQL."""

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Dialect, Integer, MetaData, Uuid, event, inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, configure_mappers, mapped_column, object_session
from sqlalchemy.types import TypeDecorator

from investment_system.snapstart import before_snapshot

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend, with microseconds (MySQL's default is seconds)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            # Imported here: functions on PostgreSQL or SQLite never pay for the MySQL dialect.
            from sqlalchemy.dialects.mysql import DATETIME

            return dialect.type_descriptor(DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use UTC-aware ones")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampedMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False)


class VersionedMixin:
    """A row that counts its changes: `version` goes up by one in the UPDATE making each change, the ORM's
    (`_count_change`) as a repository's own (which sets `version=<Model>.version + 1`). It is what an ETag
    names, and what a write conditional on If-Match compares in its WHERE."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


@event.listens_for(VersionedMixin, "before_update", propagate=True)
def _count_change(_mapper: Mapper[Any], _connection: Any, row: Any) -> None:
    # Called for every dirty row, even one whose attributes came back to what was loaded. The increment
    # is SQL, not the loaded value plus one: two writers that read the same row still get two versions.
    session = object_session(row)
    if session is None or not session.is_modified(row, include_collections=False):
        return
    if not inspect(row).attrs.version.history.has_changes():  # unless the change sets the version itself
        row.version = type(row).version + 1


def one_of(column: str, values: type[StrEnum]) -> str:
    """A CHECK constraint's SQL: `column` holds one of the enum's values."""
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


def new_id() -> uuid.UUID:
    return uuid.uuid4()


UUID_TYPE = Uuid(as_uuid=True)

# Before a SnapStart snapshot, once every other hook has imported the models it needs: the mappers of
# this function's tables, which the ORM would otherwise configure on the first query.
before_snapshot(configure_mappers, last=True)
