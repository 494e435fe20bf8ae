"""Inside a container: import the function once, then answer the gateway's invocations.

python -m invest_dev.gateway.worker TEMPLATE FUNCTION FD RATE_LIMITS    # started by `invest serve`

RATE_LIMITS is the SQLite file of the rate-limit buckets all the gateway's containers share
(`invest_dev.gateway.rate_limits`), used when RATE_LIMIT_BACKEND is `memory`.
"""

from __future__ import annotations

import json
import signal
import sys
import traceback
from multiprocessing.connection import Connection
from pathlib import Path

from invest_dev.events import LambdaContextStub
from invest_dev.gateway.rate_limits import SharedWindows
from invest_dev.template import FunctionSpec, functions, import_function
from investment_system.services.system.rate_limit import share_memory_backend


def run_worker(template: Path, function_name: str, connection_fd: int, rate_limits: Path) -> int:
    """A container's life: import the function once, then answer invocations until the gateway goes."""
    # Ctrl-C reaches the whole process group; the gateway decides when containers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    connection: Connection = Connection(connection_fd)
    share_memory_backend(SharedWindows(rate_limits))
    spec = next(spec for spec in functions(template) if spec.name == function_name)
    sys.path.insert(0, str(spec.code_uri))  # Lambda's task root: the function's sibling modules import
    try:
        handler = getattr(import_function(spec), spec.handler_attribute)
    except Exception as error:
        _log_handler_error(spec, "Init error", error)
        _reply(connection, json.dumps({"initError": type(error).__name__}))
        return 1
    if not _reply(connection, json.dumps({"ready": True})):
        return 0
    while True:
        try:
            message = json.loads(connection.recv_bytes())
        except (EOFError, OSError):
            return 0  # the gateway is gone or gave up on this container
        context = LambdaContextStub(
            function_name=spec.name,
            memory_limit_in_mb=spec.memory_size_mb,
            timeout_seconds=spec.timeout_seconds,
            log_group_name=f"/aws/lambda/{spec.name}",
        )
        try:
            reply = json.dumps({"result": handler(message["event"], context)})
        except Exception as error:  # what Lambda reports as a function error
            _log_handler_error(spec, "Unhandled exception", error)
            reply = json.dumps({"error": {"errorType": type(error).__name__, "errorMessage": str(error)}})
        if not _reply(connection, reply):
            return 0


def _reply(connection: Connection, message: str) -> bool:
    """Send to the gateway; False when it no longer listens (it stopped, or gave up waiting)."""
    try:
        connection.send_bytes(message.encode())
    except OSError:
        return False
    return True


def _log_handler_error(spec: FunctionSpec, message: str, error: Exception) -> None:
    record = {
        "level": "ERROR",
        "source": "invest-gateway",
        "function": spec.name,
        "message": message,
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_exception(error),
    }
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(
            "usage: python -m invest_dev.gateway.worker TEMPLATE FUNCTION FD RATE_LIMITS (started by `invest serve`)"
        )
    sys.exit(run_worker(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])))
