"""The analytics cache's stores (repositories/signals/analytics_cache.py): this process's memory, the real
Redis on this machine, DynamoDB (moto). Each keeps a value under its key until its time is up."""

import time
import uuid
from collections.abc import Iterator

import pytest

from investment_system.repositories.signals.analytics_cache import (
    CacheStore,
    DynamoDbCache,
    MemoryCache,
    RedisCache,
    build_cache,
)
from investment_system.services.signals.analytics_cache import analytics_store
from investment_system.settings import RateLimitSettings, get_settings
from tests.support.aws import mocked_dynamodb_table

TABLE = "invest-cache-test"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mocked_dynamodb_table(monkeypatch, TABLE):
        yield


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis), "dynamodb"])
def store(request: pytest.FixtureRequest) -> CacheStore:
    if request.param == "memory":
        return MemoryCache()
    if request.param == "redis":
        return RedisCache("redis://127.0.0.1:6379/0")
    request.getfixturevalue("aws")
    return DynamoDbCache(TABLE)


@pytest.mark.slow
def test_a_value_is_kept_under_its_key_until_its_time_is_up(store: CacheStore):
    key = f"analytics:test:{uuid.uuid4()}"
    # When a value is put for one second, and another key is read
    store.put(key, '{"total": 1}', 1)
    # Then it is there, and nothing is under the other key
    assert store.get(key) == '{"total": 1}'
    assert store.get(key + ":other") is None
    # And once its second has passed, it is gone
    time.sleep(2.1)
    assert store.get(key) is None


def test_a_full_memory_store_drops_the_oldest_entries_first():
    store = MemoryCache(max_entries=2)
    for key in ("a", "b", "c"):
        store.put(key, key, 60)
    assert [store.get(key) for key in ("a", "b", "c")] == [None, "b", "c"]


@pytest.mark.parametrize(
    ("backend", "store_type"), [("memory", MemoryCache), ("redis", RedisCache), ("dynamodb", DynamoDbCache)]
)
def test_the_cache_is_on_the_rate_limiters_backend(backend, store_type, aws):
    assert isinstance(build_cache(RateLimitSettings(backend=backend)), store_type)


def test_the_containers_store_follows_the_settings_it_runs_under(settings_env):
    # Given the store was first used under other settings (as a SnapStart replay's, on `memory`)
    settings_env.setenv("RATE_LIMIT_BACKEND", "memory")
    assert isinstance(analytics_store(), MemoryCache)
    # When the settings name Redis (the restored container's)
    settings_env.setenv("RATE_LIMIT_BACKEND", "redis")
    get_settings.cache_clear()
    # Then the store is Redis
    assert isinstance(analytics_store(), RedisCache)
