"""The feature flags' cost per request: a flag read from a warm container's store (the local JSON file, as
`invest serve` reads it, which it checks for a change each read; the defaults when no store is set),
and the maintenance guard of a route that changes data (the token verified, the flag read). Each also
counts the database statements it ran: none, the flags are no database read.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from invest_dev.bench.measure import measure
from invest_dev.bench.scenarios import BenchContext, ScenarioResult, scenario

CALLS = 2000


@contextmanager
def flags_from(document: dict[str, object] | None) -> Iterator[None]:
    """The process's flags read from a local file holding `document` (None: no store, the defaults)."""
    from investment_system.services.system import feature_flags
    from investment_system.settings import get_settings

    with tempfile.TemporaryDirectory(prefix="invest-flags-") as scratch:
        path = Path(scratch, "feature-flags.json")
        previous = os.environ.pop("FEATURE_FLAGS_FILE", None)
        if document is not None:
            path.write_text(json.dumps(document))
            os.environ["FEATURE_FLAGS_FILE"] = str(path)
        get_settings.cache_clear()
        feature_flags._feature_flags.cache_clear()
        try:
            yield
        finally:
            os.environ.pop("FEATURE_FLAGS_FILE", None)
            if previous is not None:
                os.environ["FEATURE_FLAGS_FILE"] = previous
            get_settings.cache_clear()
            feature_flags._feature_flags.cache_clear()


def _statements_during(call: Callable[[], object], iterations: int) -> tuple[list[float], int]:
    """`call`'s latencies, and how many SQL statements the database engine ran meanwhile."""
    from sqlalchemy import event

    from investment_system.db import get_engine

    ran = []
    engine = get_engine()

    def count(*_: object) -> None:
        ran.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        samples = measure(call, iterations)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return samples, len(ran)


@scenario
def feature_flag_reads(ctx: BenchContext) -> list[ScenarioResult]:
    from investment_system.http.maintenance import maintenance_guard
    from investment_system.http.route_facts import UNDECLARED
    from investment_system.services.system.feature_flags import DEFAULT_DOCUMENT, Flag, flag_enabled

    event = ctx.event("CreateSignalFunction")
    iterations = min(ctx.iterations, CALLS)
    results = []
    for label, document in (("no store: the defaults", None), ("local JSON file", DEFAULT_DOCUMENT)):
        with flags_from(document):
            flag_enabled(Flag.MAINTENANCE)  # the store made, as a container's first flag read makes it
            samples, statements = _statements_during(lambda: flag_enabled(Flag.MAINTENANCE), iterations)
            results.append(
                ScenarioResult(f"feature flag read, warm ({label})", samples, f"{statements} database statements")
            )
    with flags_from(DEFAULT_DOCUMENT):

        def guard() -> None:
            maintenance_guard(event, "POST /v1/signals", UNDECLARED)

        guard()
        samples, statements = _statements_during(guard, iterations)
        results.append(
            ScenarioResult(
                "maintenance guard of POST /v1/signals (token verified, flag read from the file)",
                samples,
                f"{statements} database statements",
            )
        )
    return results
