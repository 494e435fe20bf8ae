"""Test set-up shared by the whole suite, as plugins (tests/support/) and a few fixtures.

`tests.support.environment` comes first: it sets the environment before anything imports the layer.
Databases: the `db` fixture and its kin (tests/support/databases.py) run a test on each backend named in
TEST_DATABASES (default `sqlite,postgres,mysql`).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest_plugins = [
    "tests.support.environment",
    "tests.support.databases",
    "tests.support.metrics_contract",
    "tests.support.sam",
]


@pytest.fixture
def json_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON log lines written during the test, parsed, exactly as the Logger formats them (split at line
    feeds only: a logged value may hold U+2028 or U+0085, which str.splitlines also splits at)."""
    from investment_system.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger._logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().split("\n") if line.strip()]
    logger._logger.removeHandler(handler)


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Iterator[None]:
    """Every test starts with empty rate-limit counters: all tests share one client IP and process."""
    from investment_system.services.system import rate_limit

    rate_limit.get_rate_limiter.cache_clear()
    yield
    rate_limit.get_rate_limiter.cache_clear()


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Change environment variables for settings; the cached settings are rebuilt around the test."""
    from investment_system.settings import get_settings

    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()
