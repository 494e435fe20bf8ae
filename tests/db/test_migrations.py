"""Every migration goes down and up again on each backend, leaving the schema it found."""

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, inspect

from invest_dev.scratch_db import create_database, drop_database
from investment_system.db.engine import build_engine
from investment_system.db.migrate import HEAD_REVISION, VERSION_TABLE, current_revision, downgrade, upgrade
from investment_system.settings import DatabaseSettings
from tests.support.databases import BACKENDS, SERVER_URLS, _backend_params


@pytest.fixture(params=_backend_params(BACKENDS))
def empty_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    """An engine on a new, empty database of the backend of its own (the session's `db` stays migrated)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'updown.db'}"
    else:
        url = create_database(SERVER_URLS[request.param], f"invest_updown_{uuid.uuid4().hex[:10]}")
    engine = build_engine(DatabaseSettings(url=url))
    try:
        yield engine
    finally:
        engine.dispose()
        if request.param != "sqlite":
            drop_database(SERVER_URLS[request.param], url)


def _schema(engine: Engine) -> dict[str, object]:
    """Each table's columns (name, type, nullability), indexes, unique constraints and foreign keys."""
    with engine.connect() as connection:
        schema = inspect(connection)
        return {
            table: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in schema.get_columns(table)],
                sorted((i["name"], tuple(i["column_names"])) for i in schema.get_indexes(table)),
                sorted((u["name"], tuple(u["column_names"])) for u in schema.get_unique_constraints(table)),
                sorted((f["referred_table"], tuple(f["constrained_columns"])) for f in schema.get_foreign_keys(table)),
            )
            for table in schema.get_table_names()
        }


def test_every_migration_goes_down_and_up_again(empty_engine):
    # Given a database migrated to the newest revision
    upgrade(empty_engine)
    migrated = _schema(empty_engine)
    # When every migration is undone
    downgrade(empty_engine, "base")
    # Then no table is left but Alembic's own
    assert current_revision(empty_engine) is None
    assert set(_schema(empty_engine)) <= {VERSION_TABLE}
    # And migrating again leaves the schema the first run did
    upgrade(empty_engine)
    assert current_revision(empty_engine) == HEAD_REVISION
    assert _schema(empty_engine) == migrated
