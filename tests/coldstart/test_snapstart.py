"""SnapStart: a container restored from a snapshot connects to the database anew."""

import uuid

from snapshot_restore_py import get_after_restore
from sqlalchemy import text
from sqlalchemy.orm import Session

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


def test_priming_compiles_a_statement_that_its_execution_then_finds_compiled(sqlite_db):
    # Given a statement of the kind repositories register for priming, on a fresh engine (an empty cache)
    from sqlalchemy import select

    from investment_system.db.compat import compile_into_cache
    from investment_system.models.users import User

    engine = sqlite_db.engine
    engine.clear_compiled_cache()
    # When it is compiled before the snapshot, without a connection
    compile_into_cache(engine, select(User).where(User.id == uuid.UUID(int=1)))
    assert len(engine._compiled_cache) == 1
    # Then executing the same statement with another value, as a request does, compiles nothing more
    with Session(engine) as session:
        session.execute(select(User).where(User.id == uuid.UUID(int=2))).all()
    assert len(engine._compiled_cache) == 1


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


def test_priming_compiles_a_statement_built_once_as_its_executions_with_values_find_it(sqlite_db):
    # Given a statement built once, whose values each execution binds (bindparam), on an empty cache
    from sqlalchemy import bindparam, select

    from investment_system.db.compat import compile_into_cache
    from investment_system.models.users import User

    engine = sqlite_db.engine
    engine.clear_compiled_cache()
    by_email = select(User).where(User.email == bindparam("email"))
    # When it is compiled before the snapshot
    compile_into_cache(engine, by_email)
    assert len(engine._compiled_cache) == 1
    # Then executing it with its values, as a request does, compiles nothing more
    with Session(engine) as session:
        session.execute(by_email, {"email": "ada@example.com"}).all()
    assert len(engine._compiled_cache) == 1
