"""Schema migrations (Alembic), run by `invest migrate` and by the migrate function on deploy."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, column, inspect, select, table

from investment_system.db.engine import get_engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# The newest migration's revision. Most deploys bring none: comparing the database's revision with this
# needs neither Alembic nor the scripts (Alembic would import every script to find their head).
# tests/project/test_consistency.py keeps it the scripts' head.
HEAD_REVISION = "0008"
# Where Alembic keeps the database's revision (its default name; migrations/env.py keeps it).
VERSION_TABLE = "alembic_version"


def upgrade(engine: Engine | None = None, revision: str = "head") -> None:
    """Bring the database to `revision` (the latest by default), in one transaction where the backend allows."""
    # Alembic is imported here, when there are migrations to run (see HEAD_REVISION).
    from alembic import command
    from alembic.config import Config

    with (engine or get_engine()).begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine | None = None) -> str | None:
    """The database's revision; None before its first migration. Read as Alembic reads it, without Alembic."""
    with (engine or get_engine()).connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        versions = table(VERSION_TABLE, column("version_num"))
        revision: str | None = connection.execute(select(versions.c.version_num)).scalar_one_or_none()
        return revision
