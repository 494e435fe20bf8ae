"""A generic typed repository: get, add, update, filtered keyset pages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import CursorResult, Executable, Insert, Select, Update, and_, or_, select, update
from sqlalchemy.orm import Session

from investment_system.db.base import Base
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
    revoked_at = model.__table__.c.revoked_at
    return update(model).where(condition, revoked_at.is_(None)).values(revoked_at=now)


def insert_if_absent(dialect: str, model: type[Base], values: Mapping[str, Any], key: Sequence[str]) -> Insert:
    """Insert a row unless one with the same `key` (primary key or unique columns) exists: PostgreSQL and
    SQLite `ON CONFLICT DO NOTHING`; MySQL `ON DUPLICATE KEY UPDATE` of the key onto itself, which,
    unlike `INSERT IGNORE`, still reports foreign-key errors and takes the row's exclusive lock at once,
    so two transactions never both hold a shared lock they then both try to upgrade."""
    # Each branch imports its own dialect's module: the engine has loaded it already, and a cold start
    # need not pay for the others.
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(model).values(**values).on_conflict_do_nothing(index_elements=list(key))
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(model).values(**values).on_conflict_do_nothing(index_elements=list(key))
    from sqlalchemy.dialects import mysql

    insert = mysql.insert(model).values(**values)
    return insert.on_duplicate_key_update({key[0]: insert.table.c[key[0]]})


def execute_dml(session: Session, statement: Executable) -> CursorResult[*tuple[Any, ...]]:
    """Run an INSERT, UPDATE or DELETE written in SQL terms on the session's connection, in its transaction,
    after flushing what the session holds (as its autoflush would). The session's loaded objects are not
    synchronised: callers re-read what they need. Run as Core, the statement skips the ORM's bulk-DML
    bookkeeping, and is the statement SnapStart priming compiled (`db.engine.precompile`)."""
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
        return self.session.scalars(by_id(self.model, row_id).with_for_update()).first()

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
