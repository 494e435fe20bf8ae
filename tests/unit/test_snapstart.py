"""SnapStart: a container restored from a snapshot connects to the database anew."""

from snapshot_restore_py import get_after_restore
from sqlalchemy import text

from investment_system.db import engine as db_engine


def _restore_container() -> None:
    """What the Lambda runtime does after restoring a snapshot: run the registered hooks, in order."""
    for hook, args, kwargs in get_after_restore():
        hook(*args, **kwargs)


def test_a_restored_container_replaces_the_engine_it_was_snapshotted_with():
    # Given a container whose engine (and its pooled connection) went into the snapshot
    snapshotted = db_engine.get_engine()
    with snapshotted.connect() as connection:
        connection.execute(text("SELECT 1"))
    snapshotted_pool = snapshotted.pool
    assert snapshotted_pool.checkedin() == 1
    try:
        # When the snapshot is restored
        _restore_container()
        # Then the old pool holds no connection, and the next use gets a new engine that works
        assert snapshotted_pool.checkedin() == 0
        restored = db_engine.get_engine()
        assert restored is not snapshotted
        with restored.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        db_engine.dispose_engine()
