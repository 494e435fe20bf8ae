"""The one module that knows SQLAlchemy's internals (tests/unit/test_powertools_compat.py keeps it so).

SnapStart priming compiles statements into an engine's compiled cache before the snapshot, without a
connection. SQLAlchemy has no public call for that: executing a statement compiles it, in
`Connection._execute_clauseelement` (engine/base.py), with `ClauseElement._compile_w_cache` and the
engine's `_compiled_cache`. `compile_into_cache` makes the same call, with the arguments a statement
executed without parameters gets, so that its execution later finds the entry. If an upgrade changes
them, priming only misses (the first request compiles, as without it): the SnapStart test notices.
"""

from __future__ import annotations

from sqlalchemy import Engine, Executable
from sqlalchemy.sql import compiler


def compile_into_cache(engine: Engine, statement: Executable) -> None:
    statement._compile_w_cache(
        dialect=engine.dialect,
        compiled_cache=engine._compiled_cache,
        column_keys=[],
        for_executemany=False,
        schema_translate_map=None,
        linting=engine.dialect.compiler_linting | compiler.WARN_LINTING,
    )
