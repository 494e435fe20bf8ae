"""SnapStart priming by replay reaches nothing outside the process, and leaves the container as it found it.

Each function is primed in a process of its own (its module imported, the before-snapshot hooks run)
whose database, Redis and AWS endpoints all point at a listener that counts the connections it gets:
the replay of the function's samples must open none and write no metric, and the container must be
configured as before it. What the replay compiles for a restored container's first request:
test_snapstart_replay.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from invest_dev.template import ROOT, functions

_PRIMED_CONTAINER = """
import json, sys
source = sys.argv[1]
import importlib.util
spec = importlib.util.spec_from_file_location("function_under_test", source)
module = importlib.util.module_from_spec(spec)
sys.modules["function_under_test"] = module
spec.loader.exec_module(module)
from snapshot_restore_py import get_before_snapshot
for hook, args, kwargs in get_before_snapshot():
    hook(*args, **kwargs)
from investment_system.services.system.rate_limit import get_rate_limiter
from investment_system.settings import get_settings
settings = get_settings()
print("RESULT " + json.dumps({
    "rate_limit_backend": settings.rate_limit.backend,
    "stream_delivery_function": settings.stream.delivery_function,
    "limiter": type(get_rate_limiter().store).__name__,
}))
"""


@pytest.fixture(scope="module")
def listener() -> Iterator[tuple[int, list[int]]]:
    """A TCP port that accepts and at once closes every connection, counting them."""
    server = socket.create_server(("127.0.0.1", 0))
    connections: list[int] = []

    def serve() -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            connections.append(1)
            client.close()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], connections
    server.close()


def _primed(name: str, port: int, tmp_path) -> dict[str, object]:
    spec = next(spec for spec in functions() if spec.name == name)
    metrics_file = tmp_path / "metrics.jsonl"
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/common"), str(ROOT / "devtools"), str(ROOT)]),
        "DATABASE_URL": f"postgresql+pg8000://nobody@127.0.0.1:{port}/invest",
        "RATE_LIMIT_BACKEND": "redis",
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "STREAM_DELIVERY_FUNCTION": "invest-stream-delivery",
        "STREAM_MANAGEMENT_ENDPOINT": f"http://127.0.0.1:{port}/prod",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "METRICS_FILE": str(metrics_file),
    }
    child = subprocess.run(
        [sys.executable, "-c", _PRIMED_CONTAINER, str(spec.source)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
    assert child.returncode == 0, child.stderr[-3000:]
    assert lines, child.stdout[-3000:]
    result: dict[str, object] = json.loads(lines[-1].removeprefix("RESULT "))
    result["metrics"] = metrics_file.read_text() if metrics_file.exists() else ""
    result["emf_on_stdout"] = '"_aws"' in child.stdout
    return result


@pytest.mark.slow  # a fresh interpreter per function: `make test` runs it, `make test-quick` does not
@pytest.mark.parametrize("name", sorted(spec.name for spec in functions() if spec.name != "MigrateFunction"))
def test_priming_replays_a_function_without_reaching_its_database_its_stores_or_aws(listener, name, tmp_path):
    # Given a container configured for PostgreSQL, Redis, a stream and AWS, all of them the listener
    port, connections = listener
    before = len(connections)
    # When the function is primed before its snapshot
    result = _primed(name, port, tmp_path)
    # Then nothing connected anywhere and no metric was written (what it compiled for PostgreSQL meanwhile:
    # test_snapstart_replay.py)
    assert len(connections) == before
    assert (result["metrics"], result["emf_on_stdout"]) == ("", False)
    # And the container is configured as before the replay: its rate-limit store is Redis, its stream is there
    assert (result["rate_limit_backend"], result["stream_delivery_function"]) == ("redis", "invest-stream-delivery")
    assert result["limiter"] != "MemoryWindows"
