"""SnapStart: a container restored from a snapshot connects to the database anew."""

import uuid

from snapshot_restore_py import get_after_restore
from sqlalchemy import select, text

from investment_system.db import engine as db_engine


def _restore_container() -> None:
    """What the Lambda runtime does after restoring a snapshot: run the registered hooks, in order."""
    for hook, args, kwargs in get_after_restore():
        hook(*args, **kwargs)


def test_a_restored_container_connects_anew_with_the_engine_it_was_snapshotted_with():
    # Given a container whose engine (and a pooled connection) went into the snapshot
    snapshotted = db_engine.get_engine()
    with snapshotted.connect() as connection:
        connection.execute(text("SELECT 1"))
    snapshotted_pool = snapshotted.pool
    assert snapshotted_pool.checkedin() == 1
    try:
        # When the snapshot is restored
        _restore_container()
        # Then the engine, with what priming compiled, is kept, but its pool is a new one, which connects anew
        restored = db_engine.get_engine()
        assert restored is snapshotted
        assert restored.pool is not snapshotted_pool
        assert restored.pool.checkedin() == 0
        with restored.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        db_engine.dispose_engine()


def test_a_restored_container_reads_its_settings_and_secrets_again(settings_env):
    # Given a container that read its settings before the snapshot
    from investment_system.settings import get_settings

    snapshotted = get_settings()
    # When the secret changes (rotation) and the snapshot is then restored
    settings_env.setenv("JWT_SECRET", "rotated-secret-after-the-snapshot-0123456789")
    _restore_container()
    # Then the settings are read anew, with the rotated value
    assert get_settings() is not snapshotted
    assert get_settings().security.jwt_secret == "rotated-secret-after-the-snapshot-0123456789"


def test_the_installed_sqlalchemy_still_does_what_priming_relies_on():
    # Given the installed SQLAlchemy
    from investment_system.db.compat import compatibility_problems

    # When the compatibility module checks that a statement it compiles is what an execution then finds
    problems = compatibility_problems()
    # Then it holds (an upgrade that breaks it names the module to mend)
    assert problems == [], "\n".join(problems)


def test_a_changed_private_call_names_the_sqlalchemy_version_and_the_module_to_adapt(monkeypatch):
    # Given a SQLAlchemy whose private compile call no longer takes the compiled cache
    from importlib.metadata import version

    from sqlalchemy import ClauseElement

    from investment_system.db.compat import compatibility_problems

    def changed(self, dialect, *, column_keys, for_executemany=False, schema_translate_map=None, **kw):
        # never called: the check reads its signature
        raise AssertionError

    monkeypatch.setattr(ClauseElement, "_compile_w_cache", changed)
    # When the compatibility module checks its assumption
    problems = compatibility_problems()
    # Then the one problem names the installed version, what changed and the module to adapt
    assert problems == [
        f"sqlalchemy {version('sqlalchemy')}: ClauseElement._compile_w_cache no longer takes compiled_cache; "
        "adapt investment_system/db/compat.py"
    ]


def test_a_flush_replayed_on_the_scratch_database_primes_the_insert_a_flush_on_the_real_one_runs(db):
    # Given a restored container's engine with nothing compiled
    from investment_system.db.base import Base
    from investment_system.db.compat import compiled_statements, forget_compiled_statements
    from investment_system.db.engine import replaying, unit_of_work
    from investment_system.models.audit import AuditEvent

    def add_event() -> None:
        with unit_of_work() as session:
            session.add(AuditEvent(entity_type="probe", entity_id=uuid.uuid4(), action="created", changes={}))

    forget_compiled_statements(db.engine, Base.registry)
    # When a replay before the snapshot flushes a new row on its scratch database
    with replaying():
        add_event()
    primed = compiled_statements(db.engine, Base.registry)
    # Then the same flush on the real database compiles nothing more
    add_event()
    if db.backend == "mysql":
        assert primed == []  # MySQL's dialect learns its SQL at its first connection: priming compiles none
    else:
        assert any(sql.startswith("INSERT INTO audit_events") for sql in primed)
        assert compiled_statements(db.engine, Base.registry) == primed
    # And the replay's row never reached it: only the real flush's is there
    with unit_of_work() as session:
        assert len(session.scalars(select(AuditEvent)).all()) == 1


def test_priming_makes_the_clients_a_configured_stream_needs_and_a_restore_makes_them_anew(settings_env):
    # Given a container whose stream is configured: a delivery function to ask, and pushes to send
    from investment_system.services.stream import delivery

    settings_env.setenv("STREAM_DELIVERY_FUNCTION", "invest-stream-delivery")
    settings_env.setenv("STREAM_MANAGEMENT_ENDPOINT", "https://abc123.execute-api.eu-west-1.amazonaws.com/prod")
    settings_env.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    delivery._lambda_client.cache_clear()
    delivery._management_client.cache_clear()
    # When priming runs before the snapshot (boto3 sends nothing when a client is made)
    delivery.prime_clients()
    # Then both clients are made, the push's pointed at the configured endpoint
    assert delivery._lambda_client.cache_info().currsize == 1
    assert delivery._management_client().meta.endpoint_url.endswith("/prod")
    # And after the restore they are made again, from the settings read then
    _restore_container()
    assert delivery._lambda_client.cache_info().currsize == 0
    assert delivery._management_client.cache_info().currsize == 0


def test_priming_makes_no_stream_client_where_no_stream_is_configured(settings_env):
    # Given a container without a stream (local runs, tests, the benchmark)
    from investment_system.services.stream import delivery

    delivery._lambda_client.cache_clear()
    delivery._management_client.cache_clear()
    # When priming runs
    delivery.prime_clients()
    # Then no client is made (and boto3 is not needed)
    assert delivery._lambda_client.cache_info().currsize == 0
    assert delivery._management_client.cache_info().currsize == 0
