"""A write with its record: the change, its audit row and the user's next stream event.

On PostgreSQL they are one statement, a data-modifying WITH: `written` (the write, RETURNING its key),
the audit row and the user's counter upsert once per row of `written`, the event once per counter row
(numbered by it); so a conditional write that changed nothing records nothing, and returns no row. A new row
whose write has a condition that is a write too (`insert_within`: a quota's count) is inserted once per row
the condition's write returns, in the same statement, and a write that follows it (an Idempotency-Key's
response) is made when it is.
SQLite and MySQL run them one by one, as `record_change` and `record_event` do; so does a replay for
PostgreSQL on its scratch SQLite, once it has compiled PostgreSQL's statement (`db.engine.compiles_only`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, Select, Update, exists, func, literal_column, select

from investment_system.db.base import Base
from investment_system.db.engine import compiles_only, dialect_name
from investment_system.models.audit import AuditEvent
from investment_system.models.stream import StreamEvent, UserStream
from investment_system.repositories.base import (
    SessionBoundRepository,
    WriteCondition,
    execute_dml,
    insert_per_row_of,
    insertion,
    row_values,
)
from investment_system.repositories.stream.stream import StreamEventRepository, UserStreamRepository, counter_upsert
from investment_system.repositories.system.audit import AuditRepository, audit_insert


@dataclass(frozen=True, slots=True)
class Inserted:
    connections: int  # the user's open stream connections
    followed: bool  # the write that follows the insert wrote its row (True without one)


def _recorded(
    write: Insert | Update,
    audit: AuditEvent,
    event: StreamEvent,
    then: Update | None = None,
    records: Sequence[Base] = (),
) -> Select[Any]:
    written = write.returning(*write.table.primary_key).cte("written")
    audit_row = audit_insert(audit, written).cte("audit")
    rows = [insert_per_row_of(type(row), row_values(row), written).cte(f"record_{n}") for n, row in enumerate(records)]
    counter = (
        counter_upsert(event.user_id, events=1, connections=0, per_row_of=written)
        .returning(UserStream.connections, UserStream.last_event_id)
        .cte("counter")
    )
    values = {"user_id": event.user_id, "id": counter.c.last_event_id, "type": event.type, "data": event.data}
    event_row = insert_per_row_of(StreamEvent, {**values, "at": event.at}, counter).cte("event")
    if then is None:
        return select(counter.c.connections).add_cte(audit_row, event_row, *rows)
    following = then.where(exists(written.select())).returning(literal_column("1")).cte("then")
    followed = select(func.count()).select_from(following).scalar_subquery() == 1
    return select(counter.c.connections, followed.label("followed")).add_cte(audit_row, event_row, *rows)


class RecordedWriteRepository(SessionBoundRepository):
    def insert_within(
        self, row: Base, condition: WriteCondition, audit: AuditEvent, event: StreamEvent, *, then: Update | None
    ) -> Inserted | None:
        """Insert `row` with `audit` and `event` (as `write`) when `condition`'s write is made, and then make
        `then` (an UPDATE of one row); None when the condition did not hold and nothing was written."""
        if dialect_name(self.session) == "postgresql":
            gate = condition.statement()
            made = gate.returning(*gate.table.primary_key).cte("condition")
            statement = _recorded(insert_per_row_of(type(row), row_values(row), made), audit, event, then)
            if not compiles_only(self.session, statement):
                found = execute_dml(self.session, statement).first()
                if found is None:
                    return None
                return Inserted(int(found.connections), then is None or bool(found.followed))
        if not condition.passes(self.session):
            return None
        connections = self.write(insertion(row), audit, event)
        assert connections is not None  # (an INSERT writes its row)
        return Inserted(connections, then is None or execute_dml(self.session, then).rowcount == 1)

    def write(
        self, write: Insert | Update, audit: AuditEvent, event: StreamEvent, *, records: Sequence[Base] = ()
    ) -> int | None:
        """Run `write` (an INSERT or a conditional UPDATE of one row) and, when it wrote its row, add `audit`,
        the new rows `records` and `event`, numbered the user's next (its id set here); the user's open
        connections then, or None when the write changed nothing."""
        if dialect_name(self.session) == "postgresql":
            statement = _recorded(write, audit, event, records=records)
            if not compiles_only(self.session, statement):
                row = execute_dml(self.session, statement).first()
                return None if row is None else int(row.connections)
        if execute_dml(self.session, write).rowcount != 1:
            return None
        AuditRepository(self.session).add(audit)
        for record in records:
            execute_dml(self.session, insertion(record))
        event.id, connections = UserStreamRepository(self.session).next_event_id(event.user_id)
        StreamEventRepository(self.session).add(event)
        return connections
