"""Pytest plugin for the metrics contract (tests/shared/test_metrics_contract.py).

Every EMF document the code emits during the session is appended to METRICS_FILE (set by tests/support/environment.py;
observability.py writes each document there, and so does the local gateway for its workers). The
contract's session checks compare that with the dashboard, so they run last, and only when the whole
suite runs (`make test`): a partial run emits only part of the metrics, and they are deselected then.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CONTRACT_MODULE = "test_metrics_contract.py"
SESSION_CHECK_PREFIX = "test_the_suite_"
TESTS = Path(__file__).resolve().parents[1]


def emitted_metrics_file() -> Path:
    return Path(os.environ["METRICS_FILE"])


def _is_session_check(item: pytest.Item) -> bool:
    return item.path.name == CONTRACT_MODULE and item.name.startswith(SESSION_CHECK_PREFIX)


def _runs_whole_suite(config: pytest.Config, items: list[pytest.Item]) -> bool:
    if config.option.keyword or config.option.markexpr or config.option.deselect:
        return False
    collected = {item.path for item in items}
    return all(path in collected for path in TESTS.rglob("test_*.py"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    checks = [item for item in items if _is_session_check(item)]
    if not checks:
        return
    others = [item for item in items if not _is_session_check(item)]
    if _runs_whole_suite(config, items):
        items[:] = others + checks  # after every other test has emitted its metrics
    else:
        items[:] = others
        config.hook.pytest_deselected(items=checks)


def pytest_report_header(config: pytest.Config) -> str:
    return f"metrics contract: EMF documents of this session go to {emitted_metrics_file()}"
