"""The one module that knows SQLAlchemy's internals (tests/http/test_powertools_compat.py keeps it so).

SnapStart priming compiles statements into an engine's compiled cache, and a flush's INSERTs into
their mapper's cache, before the snapshot and without a connection. SQLAlchemy has no public call
for either: `compile_into_cache` makes the call an execution makes (`_compile_w_cache`), and
`compile_flush_insert` asks `_collect_insert_commands` for a row's parameters as the flush does. If
an upgrade changes them, priming only misses (the first request compiles): the SnapStart test notices.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import BindParameter, Dialect, Engine, Executable, inspect
from sqlalchemy.sql import ClauseElement, compiler, visitors

if TYPE_CHECKING:
    from sqlalchemy.orm import registry


def compile_into_cache(engine: Engine, statement: Executable) -> None:
    """Compile `statement` as its execution will: with no parameters when its values are in it, or with
    the values of its unbound parameters (`bindparam("name")`), which name the cache entry's columns."""
    nodes = visitors.iterate(cast(ClauseElement, statement))
    unbound = {node.key for node in nodes if isinstance(node, BindParameter) and node.required}
    _compile(engine, statement, engine._compiled_cache, unbound)


def _compile(engine: Engine, statement: Any, cache: Any, parameter_names: Iterable[str]) -> None:
    """What `Connection._execute_clauseelement` does with a statement executed once with parameters of
    these names (none: its values are in it), into `cache`: the engine's, or a mapper's for its flushes."""
    statement._compile_w_cache(
        dialect=engine.dialect,
        compiled_cache=cache,
        column_keys=sorted(parameter_names),
        for_executemany=False,
        schema_translate_map=None,
        linting=engine.dialect.compiler_linting | compiler.WARN_LINTING,
    )


class _DialectOf:
    """What `_collect_insert_commands` reads of the connection a flush would use: its dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect


def compile_flush_insert(engine: Engine, row: Any) -> None:
    """Compile the INSERT a flush of `row` (a new object, not yet added) emits, into its mapper's cache.

    Only the single-row INSERT the flush runs as it is: a row whose mapper has no version counter, no
    SQL expression among its values and nothing the database fills in that the ORM would fetch back
    (RETURNING added to the statement) is primed; any other is left to its first flush."""
    from sqlalchemy.orm import persistence  # the ORM is loaded: `row` is a mapped object

    state = inspect(row)
    mapper = state.mapper
    table = mapper.local_table
    flushed = [(state, state.dict, mapper, _DialectOf(engine.dialect))]
    commands = persistence._collect_insert_commands(table, flushed)  # type: ignore[no-untyped-call]
    (_, _, params, _, _, value_params, _, has_all_defaults) = next(iter(commands))
    if value_params or not has_all_defaults or mapper.version_id_col is not None:
        return
    base = mapper.base_mapper
    _compile(engine, base._memo(("insert", table), table.insert), base._compiled_cache, params)


def compiled_statement_count(engine: Engine, mappings: registry) -> int:
    """How many statements `engine` and the flushes of `mappings`' classes hold compiled for its dialect."""
    flushes = sum(
        1 for mapper in mappings.mappers for key in mapper._compiled_cache if key and key[0] is engine.dialect
    )
    return len(engine._compiled_cache or {}) + flushes


def forget_compiled_statements(engine: Engine, mappings: registry) -> None:
    """Empty the caches `compiled_statement_count` counts, as in a new container."""
    engine.clear_compiled_cache()
    for mapper in mappings.mappers:
        mapper._compiled_cache.clear()
