"""Database access: engine, unit of work, declarative base, migrations."""

from investment_system.db.engine import (
    dispose_engine,
    get_engine,
    read_only,
    single_statement_write,
    unit_of_work,
    use_engine,
)

__all__ = ["dispose_engine", "get_engine", "read_only", "single_statement_write", "unit_of_work", "use_engine"]
