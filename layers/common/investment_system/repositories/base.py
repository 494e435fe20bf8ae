"""A generic typed repository: get, add, update, filtered keyset pages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    CTE,
    ColumnElement,
    CursorResult,
    Delete,
    Executable,
    FromClause,
    Insert,
    Select,
    Update,
    and_,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from investment_system.db.base import Base
from investment_system.db.engine import compiles_only, dialect_name
from investment_system.db.upserts import OnConflict
from investment_system.repositories.pagination import decode_cursor, encode_cursor


class Keyed(Protocol):
    id: Any
    created_at: Any


def page_statement(
    model: type[Keyed], statement: Select[Any], *, limit: int, cursor: str | None, scope: str
) -> Select[Any]:
    """`statement` as one page: newest first, after `cursor`, one row more than `limit` (is there a next page?)."""
    created_at, row_id = model.created_at, model.id
    if cursor:
        after_created, after_id = decode_cursor(cursor, scope)
        statement = statement.where(
            # The first condition alone bounds an index range scan; the OR alone is only a filter,
            # which made a page deep in a large table cost a scan of every newer row.
            created_at <= after_created,
            or_(created_at < after_created, and_(created_at == after_created, row_id < after_id)),
        )
    return statement.order_by(created_at.desc(), row_id.desc()).limit(limit + 1)


def by_id[ModelT: Keyed](model: type[ModelT], row_id: uuid.UUID) -> Select[ModelT]:
    """The row of `model` whose id is `row_id` (`Repository.get`)."""
    return select(model).where(model.id == row_id)


def row_by_id[ModelT: Keyed](session: Session, model: type[ModelT], row_id: uuid.UUID) -> ModelT | None:
    return session.scalars(by_id(model, row_id)).first()


def revocation(model: type[Base], condition: Any, now: datetime) -> Update:
    """Revoke the rows of `model` (sessions, refresh tokens) matching `condition` that are not revoked yet."""
    columns = model.__table__.c
    # `updated_at` given, not the column's onupdate: a Python default cannot go in a WITH (`run_together`).
    return update(model).where(condition, columns.revoked_at.is_(None)).values(revoked_at=now, updated_at=now)


def insert_if_absent(model: type[Base], values: Mapping[str, Any], key: Sequence[str]) -> Insert:
    """Insert a row unless one with the same `key` (primary key or unique columns) exists; the same
    statement for every database (`db.upserts.OnConflict`)."""
    return insert(model).values(**values).ext(OnConflict(key))


def row_values(row: Base) -> dict[str, Any]:
    """Every column of a new row as the object holds it (its id and version too)."""
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


def insertion(row: Base) -> Insert:
    """The INSERT of a new row, every column given: what the row will be is known before it is written, so a
    record of it can go in the same statement."""
    return insert(type(row)).values(row_values(row))


def versioned_change[RowT: Base](
    row: RowT, now: datetime, values: Mapping[str, Any], *conditions: ColumnElement[bool]
) -> tuple[Update, RowT]:
    """The UPDATE writing `values` (and `updated_at` now) to `row`'s row while it is at the version read and
    `conditions` hold; and the row it leaves when it writes: a new object, outside the session, with those
    values and the next version (a record of the change made from it can go in the same statement)."""
    model: Any = type(row)  # a model with an `id` and a `version` (db.base.VersionedMixin)
    read: Any = row
    changes = {**values, "updated_at": now}  # (not the column's onupdate: the row left must be known)
    statement = (
        update(model)
        .where(model.id == read.id, model.version == read.version, *conditions)
        .values(**changes, version=model.version + 1)
    )
    return statement, model(**{**row_values(row), **changes, "version": read.version + 1})


def run_together(
    session: Session, writes: Sequence[Insert | Update | Delete], *, records: Sequence[Base] = ()
) -> list[int]:
    """Run independent writes, each to a table none of the others writes, and insert the new rows `records`
    (an audit row); each write's row count. On PostgreSQL they are one statement, each a data-modifying
    WITH of it (one round trip; they see the same snapshot, which independent writes do not mind);
    elsewhere, and in a replay for PostgreSQL on its scratch SQLite, one by one in order."""
    counts = run_gated(session, None, writes, records=records)
    assert counts is not None  # (nothing gates them)
    return counts


def run_gated(
    session: Session,
    gate: Update | None,
    writes: Sequence[Insert | Update | Delete],
    *,
    records: Sequence[Base] = (),
) -> list[int] | None:
    """`run_together`, made only when `gate` (an UPDATE of one row, conditional on it being as read) writes
    its row, first; None when it did not. On PostgreSQL the gated writes are conditional on the gate's
    RETURNING, in the same statement."""
    if dialect_name(session) == "postgresql":
        made, gated = _together(writes, gate, records)
        statement = select(*(select(func.count()).select_from(cte).scalar_subquery() for cte in made))
        if not compiles_only(session, statement):
            gate_count, *counts = execute_dml(session, statement).one()
            if gated and not gate_count:
                return None
            return [int(count) for count in counts[: len(writes)]]
    if gate is not None and execute_dml(session, gate).rowcount != 1:
        return None
    counts = [execute_dml(session, write).rowcount for write in writes]
    for row in records:
        execute_dml(session, insert(type(row)).values(_given(row)))
    return counts


def _together(
    writes: Sequence[Insert | Update | Delete], gate: Update | None, records: Sequence[Base]
) -> tuple[list[CTE], bool]:
    """PostgreSQL's WITHs of `run_together`: the gate's first (a constant one-row CTE without a gate), then
    the writes', then the records'; and whether there is a gate."""
    if gate is None:
        source = select(literal_column("1").label("gate")).cte("gate")
        conditioned = list(writes)
    else:
        source = gate.returning(literal_column("1").label("gate")).cte("gate")
        condition = exists(source.select())
        conditioned = [_only_when(write, condition) for write in writes]
    made = [source, *(write.returning(literal_column("1")).cte(f"write_{n}") for n, write in enumerate(conditioned))]
    for n, row in enumerate(records):
        inserted = insert_per_row_of(type(row), _given(row), source)
        made.append(inserted.returning(literal_column("1")).cte(f"record_{n}"))
    return made, gate is not None


def _only_when(write: Insert | Update | Delete, condition: ColumnElement[bool]) -> Update | Delete:
    if isinstance(write, Insert):
        raise TypeError("a gated write is an UPDATE or a DELETE; a new row goes in `records`")
    return write.where(condition)


def _given(row: Base) -> dict[str, Any]:
    """A new row's values but a primary key left to the database (an audit row's sequence)."""
    return {key: value for key, value in row_values(row).items() if value is not None or not _is_key(row, key)}


def _is_key(row: Base, key: str) -> bool:
    return bool(row.__table__.c[key].primary_key)


class WriteCondition(Protocol):
    """A condition of a write that is itself a write, such as counting it against a quota: the write is made
    only when the condition's own write is."""

    def statement(self) -> Insert:
        """PostgreSQL's: an INSERT that writes its one row when the condition holds (it gets a RETURNING)."""
        ...

    def passes(self, session: Session) -> bool:
        """Any database's: make the condition's write in `session`; whether it was made."""
        ...


def insert_per_row_of(model: type[Base], values: Mapping[str, Any], source: FromClause) -> Insert:
    """INSERT INTO `model`'s table `values` once per row of `source` (none when it has none): a write that
    depends on another's outcome, `source` being that one's RETURNING in a data-modifying WITH. A value is
    a column of `source` or a Python value, bound with its column's type."""
    columns = model.__table__.c
    selected = [
        (value if isinstance(value, ColumnElement) else literal(value, columns[name].type)).label(name)
        for name, value in values.items()
    ]
    return insert(model).from_select(list(values), select(*selected).select_from(source))


def execute_dml(session: Session, statement: Executable) -> CursorResult[*tuple[Any, ...]]:
    """Run an INSERT, UPDATE or DELETE written in SQL terms on the session's connection, in its transaction,
    after flushing what the session holds (as its autoflush would). The session's loaded objects are not
    synchronised: callers re-read what they need. Run as Core, the statement skips the ORM's bulk-DML
    bookkeeping, and is the statement SnapStart priming compiled (`db.engine.replaying`)."""
    session.flush()
    return session.connection().execute(statement)


class SessionBoundRepository:
    """Data access inside a unit of work's session."""

    def __init__(self, session: Session) -> None:
        self.session = session


class RowRepository[RowT](SessionBoundRepository):
    """Data access for rows of one model: adding one flushes it (an IntegrityError shows at once)."""

    def add(self, row: RowT) -> RowT:
        self.session.add(row)
        self.session.flush()
        return row


class Repository[ModelT: Keyed](RowRepository[ModelT]):
    """Data access for one model with an id and a creation time: by id, pages, updates."""

    model: type[ModelT]

    def get(self, row_id: uuid.UUID, *, for_update: bool = False) -> ModelT | None:
        if not for_update:
            return row_by_id(self.session, self.model, row_id)
        if dialect_name(self.session) == "sqlite":
            # SQLite ignores FOR UPDATE and begins a transaction at its first write: a no-op UPDATE of the
            # row takes the database's write lock, so the read that follows is still true at the write.
            model: Any = self.model
            kept = {column.key: column for column in model.__table__.c if column.onupdate is not None}
            execute_dml(self.session, update(model).where(model.id == row_id).values(id=model.id, **kept))
        # FOR NO KEY UPDATE on PostgreSQL (FOR UPDATE elsewhere): the row's key never changes, so rows that
        # refer to it (a user's new refresh token) can be inserted meanwhile, as the UPDATE itself allows.
        return self.session.scalars(by_id(self.model, row_id).with_for_update(key_share=True)).first()

    def update(self, row: ModelT, **changes: Any) -> ModelT:
        for name, value in changes.items():
            setattr(row, name, value)
        self.session.flush()
        return row

    def execute_update(self, statement: Update) -> int:
        """Run a bulk UPDATE (a conditional one is atomic on every backend); the number of rows it matched."""
        return execute_dml(self.session, statement).rowcount

    def select_where(self, **criteria: Any) -> Select[Any]:
        """A select of this model filtered by equality on every criterion that is not None (None: no filter)."""
        return select(self.model).filter_by(**{name: value for name, value in criteria.items() if value is not None})

    def page(
        self, statement: Select[Any], *, limit: int, cursor: str | None, scope: str
    ) -> tuple[Sequence[ModelT], str | None]:
        """Rows of `statement`, newest first, after `cursor`; and the cursor of the next page (None at the end)."""
        rows: Sequence[ModelT] = self.session.scalars(
            page_statement(self.model, statement, limit=limit, cursor=cursor, scope=scope)
        ).all()
        if len(rows) <= limit:
            return rows, None
        last = rows[limit - 1]
        return rows[:limit], encode_cursor(last.created_at, last.id, scope)
