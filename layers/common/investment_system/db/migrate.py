"""Schema migrations (Alembic), run by `invest migrate` and by the migrate function on deploy."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, column, inspect, select, table

from investment_system.db.engine import get_engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# A script's `revision = "..."` and `down_revision = ...` lines (a merge's names a tuple).
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\b[^=\n]*=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"""["']([^"']+)["']""")


def head_revision(versions: Path = MIGRATIONS / "versions") -> str:
    """The revision no script names as its down_revision: the one `upgrade()` reaches. Read from the scripts'
    assignment lines, so that it takes neither Alembic nor importing them (Alembic imports every one)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in versions.iterdir():
        if script.suffix != ".py":
            continue
        assigned = {name: _QUOTED.findall(value) for name, value in _ASSIGNMENT.findall(script.read_text("utf-8"))}
        if len(assigned.get("revision", ())) != 1:
            raise RuntimeError(f"migration script {script.name} assigns no `revision = '...'`")
        revisions.update(assigned["revision"])
        revised.update(assigned.get("down_revision", ()))
    heads = sorted(revisions - revised)
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads, {heads}, where one is needed: merge them")
    return heads[0]


# Most deploys bring no migration: the migrate function compares the database's revision with this first.
HEAD_REVISION = head_revision()
# Where Alembic keeps the database's revision (its default name; migrations/env.py keeps it).
VERSION_TABLE = "alembic_version"


def upgrade(engine: Engine | None = None, revision: str = "head") -> None:
    """Bring the database to `revision` (the latest by default), in one transaction where the backend allows."""
    _run("upgrade", engine, revision)


def downgrade(engine: Engine | None, revision: str) -> None:
    """Undo the migrations after `revision` ("base": all of them); the suite checks each can be undone."""
    _run("downgrade", engine, revision)


def _run(direction: str, engine: Engine | None, revision: str) -> None:
    # Alembic is imported here, when there are migrations to run (see HEAD_REVISION).
    from alembic import command
    from alembic.config import Config

    with (engine or get_engine()).begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)


def current_revision(engine: Engine | None = None) -> str | None:
    """The database's revision; None before its first migration. Read as Alembic reads it, without Alembic."""
    with (engine or get_engine()).connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        versions = table(VERSION_TABLE, column("version_num"))
        revision: str | None = connection.execute(select(versions.c.version_num)).scalar_one_or_none()
        return revision
