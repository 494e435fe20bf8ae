"""The one module that knows SQLAlchemy's internals (tests/http/test_powertools_compat.py keeps it so).

SnapStart priming compiles, for the container's database and without a connection, each statement a
replay executes on a scratch engine, into the cache its execution on the real engine reads (the
engine's, a flush's mapper's): `compile_executions_for`. SQLAlchemy has no public call for it: it makes
the call an execution makes (`_compile_w_cache`). `compatibility_problems` (a test runs it) names the
upgrade that changes it; priming would only miss then (the first request compiling).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from sqlalchemy import ClauseElement, Engine, Executable
from sqlalchemy.schema import ExecutableDDLElement
from sqlalchemy.sql import compiler

if TYPE_CHECKING:
    from sqlalchemy.orm import registry


def compile_executions_for(target: Engine) -> Callable[..., None]:
    """A `before_execute` listener for a scratch engine: each statement it executes is compiled as `target`
    would compile it for that execution (same parameter names, same cache: the one the execution options
    name, as a flush names its mapper's, else `target`'s)."""

    def before_execute(
        _connection: Any, statement: Any, multiparams: Any, params: Any, options: Mapping[str, Any]
    ) -> None:
        if not isinstance(statement, Executable) or isinstance(statement, ExecutableDDLElement):
            return  # (DDL is never cached: the scratch schema's)
        executions = list(multiparams) if multiparams else ([params] if params else [])
        keys = sorted(executions[0]) if executions else []
        cache = options.get("compiled_cache", target._compiled_cache)
        _compile(target, statement, cache, keys, for_executemany=len(executions) > 1)

    return before_execute


def compatibility_problems() -> list[str]:
    """What no longer holds, in the installed SQLAlchemy, of what this module relies on (empty when all
    holds): that a statement compiled here is the one an execution of it then finds in the cache."""
    from sqlalchemy import create_engine, event, literal_column, select

    problems = []
    parameters = inspect.signature(ClauseElement._compile_w_cache).parameters
    expected = ("dialect", "compiled_cache", "column_keys", "for_executemany", "schema_translate_map")
    missing = [name for name in expected if name not in parameters]
    if missing or not any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters.values()):
        problems.append(f"ClauseElement._compile_w_cache no longer takes {', '.join(missing) or '**kw (linting)'}")
    else:
        target, scratch = create_engine("sqlite://"), create_engine("sqlite://")
        event.listen(scratch, "before_execute", compile_executions_for(target))
        statement: Any = select(literal_column("1"))
        with scratch.connect() as connection:
            connection.execute(statement)
        primed = len(target._compiled_cache or {})
        with target.connect() as connection:
            connection.execute(statement)
        if primed != 1 or len(target._compiled_cache or {}) != 1:
            problems.append("an execution no longer finds what `_compile_w_cache` put in the engine's cache")
    installed = version("sqlalchemy")
    return [f"sqlalchemy {installed}: {problem}; adapt investment_system/db/compat.py" for problem in problems]


def _compile(
    engine: Engine, statement: Any, cache: Any, parameter_names: Iterable[str], *, for_executemany: bool = False
) -> None:
    """What `Connection._execute_clauseelement` does with a statement executed with parameters of these
    names (none: its values are in it), into `cache`: the engine's, or a mapper's for its flushes."""
    statement._compile_w_cache(
        dialect=engine.dialect,
        compiled_cache=cache,
        column_keys=sorted(parameter_names),
        for_executemany=for_executemany,
        schema_translate_map=None,
        linting=engine.dialect.compiler_linting | compiler.WARN_LINTING,
    )


def compiled_statements(engine: Engine, mappings: registry) -> list[str]:
    """The SQL of the statements `engine` and the flushes of `mappings`' classes hold compiled for its dialect."""
    caches = [engine._compiled_cache or {}, *(mapper._compiled_cache for mapper in mappings.mappers)]
    return [
        str(compiled)
        for cache in caches
        for key, compiled in list(cache.items())
        if cache is caches[0] or (key and key[0] is engine.dialect)
    ]


def compiled_statement_count(engine: Engine, mappings: registry) -> int:
    """How many statements `engine` and the flushes of `mappings`' classes hold compiled for its dialect."""
    return len(compiled_statements(engine, mappings))


def forget_compiled_statements(engine: Engine, mappings: registry) -> None:
    """Empty the caches `compiled_statement_count` counts, as in a new container."""
    engine.clear_compiled_cache()
    for mapper in mappings.mappers:
        mapper._compiled_cache.clear()
