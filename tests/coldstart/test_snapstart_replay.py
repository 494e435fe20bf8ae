"""SnapStart priming by replay, function by function: a restored container's first request compiles nothing.

Each function runs in a process of its own, as in Lambda: its module is imported, the before-snapshot
hooks run (priming: its sample requests replayed on a scratch database), then the after-restore hooks;
then it answers its sample event of events/ (prepared as the benchmark prepares it) on the test's
database. The statements compiled for the engine's dialect (the engine's own and the flushes') are
counted after priming and after that first request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from invest_dev.bench.prepare import event_source
from invest_dev.samples import event_path, load_event, seed_sample_users, with_fresh_token
from invest_dev.template import ROOT, functions

# What the test's process runs in a fresh interpreter: import, prime, restore, answer, report.
_RESTORED_CONTAINER = """
import json, sys
source, handler_name, event_file = sys.argv[1:4]
import importlib.util
spec = importlib.util.spec_from_file_location("function_under_test", source)
module = importlib.util.module_from_spec(spec)
sys.modules["function_under_test"] = module
spec.loader.exec_module(module)
from snapshot_restore_py import get_after_restore, get_before_snapshot
from investment_system.db.base import Base
from investment_system.db.compat import compiled_statements
from investment_system.db.engine import get_engine

before_snapshot = compiled_statements(get_engine(), Base.registry)
for hook, args, kwargs in get_before_snapshot():
    hook(*args, **kwargs)
for hook, args, kwargs in get_after_restore():
    hook(*args, **kwargs)
primed = compiled_statements(get_engine(), Base.registry)
from invest_dev.events import LambdaContextStub
with open(event_file) as handle:
    event = json.load(handle)
reply = getattr(module, handler_name)(event, LambdaContextStub(function_name="FunctionUnderTest"))
after = compiled_statements(get_engine(), Base.registry)
status = reply.get("statusCode") if isinstance(reply, dict) else None
missed = [sql for sql in after if sql not in primed]
print("RESULT " + json.dumps({
    "before": len(before_snapshot), "primed": len(primed), "after": len(after), "missed": missed, "status": status
}))
"""

# Every function with a sample event (tests/devtools/test_sample_events.py wants one of each), but the custom
# resource that migrates the database (its own priming: functions/system/migrate.py).
FUNCTIONS = sorted(spec.name for spec in functions() if event_path(spec).exists() and spec.name != "MigrateFunction")


def _first_request_after_restore(db, name: str, tmp_path) -> dict[str, Any]:
    spec = next(spec for spec in functions() if spec.name == name)
    users = seed_sample_users()
    event = event_source(name, with_fresh_token(load_event(spec), users), users)()
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(event))
    environment = {
        **os.environ,
        "DATABASE_URL": db.url,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/common"), str(ROOT / "devtools"), str(ROOT)]),
    }
    child = subprocess.run(
        [sys.executable, "-c", _RESTORED_CONTAINER, str(spec.source), spec.handler_attribute, str(event_file)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
    assert child.returncode == 0, child.stderr[-3000:]
    assert lines, child.stdout[-3000:]
    counts: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    counts["log"] = child.stdout[-3000:]
    return counts


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_restored_functions_first_request_compiles_no_statement_priming_did_not(db, name, tmp_path):
    # Given a function's container primed before its snapshot (its samples replayed on a scratch
    # database, nothing compiled before) and restored
    # When it answers its sample event, as a first request after the restore
    counts = _first_request_after_restore(db, name, tmp_path)
    # Then the request was answered, and compiled no statement that priming had not
    assert counts["before"] == 0
    assert counts["status"] is None or counts["status"] < 500, counts["log"]
    if db.backend == "mysql":
        # MySQL's dialect learns what its SQL looks like at its first connection: priming compiles none
        assert counts["primed"] == 0
    else:
        assert counts["missed"] == []
        assert counts["after"] == counts["primed"]  # (a function without SQL: none either way)
