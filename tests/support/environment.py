"""The test session's environment, set when pytest loads this plugin (conftest.py's first `pytest_plugins`).

It must come before any `investment_system` import: several of the layer's modules read the settings when
they are imported, and the settings are read once per process. The plugins listed after this one (and
every test module) import the layer, so it is set here, at import, and checked below.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# The session's scratch directory: the SQLite databases and the emitted metrics.
SCRATCH = Path(tempfile.mkdtemp(prefix="invest-tests-"))

os.environ.update(
    {
        "ENVIRONMENT": "test",
        "DATABASE_URL": f"sqlite:///{SCRATCH / 'default.db'}",
        "ARGON2_MEMORY_KIB": "64",  # cheap hashes for tests; the benchmark uses the real parameters
        "ARGON2_TIME_COST": "1",
        "RATE_LIMIT_BACKEND": "memory",
        "LOG_LEVEL": "INFO",
        "POWERTOOLS_DEV": "false",
        # Every EMF document of the session, for the metrics contract (tests/support/metrics_contract.py).
        "METRICS_FILE": str(SCRATCH / "metrics.jsonl"),
    }
)


def pytest_configure() -> None:
    """Fail at once if the layer read its settings before this environment was set."""
    from investment_system.settings import get_settings

    if get_settings().environment != "test":
        raise RuntimeError("the settings were read before tests/support/environment.py set the environment")
