"""An INSERT that does nothing, or updates the row, when a row with the same key exists: one statement for
every database, rendered for each by the compiler (SQLAlchemy's documented `SyntaxExtension` and
`compiles`), so that its cache key is the same whatever the dialect that executes it (SnapStart priming
compiles, for the real database, what a replay executed on SQLite: docs/cold-start.md#snapstart-priming).
PostgreSQL and SQLite write `ON CONFLICT`; MySQL and MariaDB `ON DUPLICATE KEY UPDATE`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ClauseElement, Insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import SyntaxExtension, coercions, roles, visitors
from sqlalchemy.sql.compiler import SQLCompiler


class OnConflict(SyntaxExtension, ClauseElement):
    """What an INSERT does when a row with its `key` (primary key or unique columns) exists: nothing, or
    set the columns of `changes` to their expressions (which may read the existing row's columns), only
    `where` the existing row meets a condition if one is given: on PostgreSQL and SQLite the row then
    counts as neither inserted nor updated (a row count of 0); on MySQL each change keeps the old value."""

    _traverse_internals = [
        ("key", visitors.InternalTraversal.dp_string_list),
        ("columns", visitors.InternalTraversal.dp_string_list),
        ("values", visitors.InternalTraversal.dp_clauseelement_tuple),
        ("where", visitors.InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, key: Sequence[str], changes: Mapping[str, Any] | None = None, where: Any = None) -> None:
        self.key = list(key)
        self.columns = list(changes or {})
        self.values = tuple(
            coercions.expect(roles.ExpressionElementRole, value, apply_propagate_attrs=self)
            for value in (changes or {}).values()
        )
        self.where = None if where is None else coercions.expect(roles.WhereHavingRole, where)

    def apply_to_insert(self, insert_stmt: Insert) -> None:
        insert_stmt.apply_syntax_extension_point(self.append_replacing_same_type, "post_values")


def _assignments(element: OnConflict, compiler: SQLCompiler, *, guarded: bool = False, **kw: Any) -> str:
    """`column = value, ...`; `guarded`: each value only where the condition holds (MySQL's IF)."""
    quote = compiler.preparer.quote
    condition = compiler.process(element.where, **kw) if guarded and element.where is not None else None
    return ", ".join(
        f"{quote(column)} = "
        + (
            compiler.process(value, **kw)
            if condition is None
            else f"IF({condition}, {compiler.process(value, **kw)}, {quote(column)})"
        )
        for column, value in zip(element.columns, element.values, strict=True)
    )


@compiles(OnConflict)
def _on_conflict(element: OnConflict, compiler: SQLCompiler, **kw: Any) -> str:
    target = ", ".join(compiler.preparer.quote(column) for column in element.key)
    action = f"DO UPDATE SET {_assignments(element, compiler, **kw)}" if element.columns else "DO NOTHING"
    if element.columns and element.where is not None:
        action += f" WHERE {compiler.process(element.where, **kw)}"
    return f"ON CONFLICT ({target}) {action}"


@compiles(OnConflict, "mysql")
@compiles(OnConflict, "mariadb")
def _on_duplicate_key(element: OnConflict, compiler: SQLCompiler, **kw: Any) -> str:
    if element.columns:
        return f"ON DUPLICATE KEY UPDATE {_assignments(element, compiler, guarded=True, **kw)}"
    # The key set onto itself: unlike INSERT IGNORE, foreign-key errors are still reported, and the row's
    # exclusive lock is taken at once, so two transactions never both hold a shared lock they then both
    # try to upgrade.
    key = compiler.preparer.quote(element.key[0])
    return f"ON DUPLICATE KEY UPDATE {key} = {key}"
