"""Tracing: free at cold start when off; when on, every function's handler and its database work are traced.

Each check runs in a fresh interpreter, because settings (TRACING_ENABLED) and imports happen once per
process, as in a Lambda container.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_IMPORT_EVERY_HTTP_FUNCTION = """
import sys
from invest_dev.template import http_functions, import_function
for spec in http_functions():
    import_function(spec)
print(sorted(name for name in sys.modules if name.split(".")[0] in ("aws_xray_sdk", "wrapt")))
"""

_INVOKE_HEALTH_AND_LOGIN_IN_A_LAMBDA_LIKE_ENVIRONMENT = """
import json
from investment_system.db.migrate import upgrade
upgrade()
from invest_dev.events import LambdaContextStub, http_event
from invest_dev.template import functions, import_function
specs = {spec.name: spec for spec in functions()}
health = import_function(specs["HealthFunction"]).handler
reply = health(http_event("GET", "/v1/health", route_key="GET /v1/health"), LambdaContextStub("HealthFunction"))
login = import_function(specs["LoginFunction"]).handler
body = json.dumps({"email": "nobody@example.com", "password": "Not-the-password-42"})
event = http_event("POST", "/v1/auth/login", route_key="POST /v1/auth/login", body=body,
                   headers={"content-type": "application/json"})
print(reply["statusCode"], login(event, LambdaContextStub("LoginFunction"))["statusCode"])
"""


def _python(code: str, tmp_path: Path, **env: str) -> str:
    environment = {
        **{k: v for k, v in os.environ.items() if k not in ("METRICS_FILE", "TRACING_ENABLED")},
        "ENVIRONMENT": "test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'tracing.db'}",
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_http_functions_never_import_the_xray_sdk_when_tracing_is_off(tmp_path):
    # Given tracing disabled (the default)
    # When every HTTP function of the template is imported, as at cold start
    loaded = _python(_IMPORT_EVERY_HTTP_FUNCTION, tmp_path, TRACING_ENABLED="false")
    # Then the X-Ray SDK (a heavy import) was never loaded
    assert loaded.strip() == "[]"


def test_http_functions_load_the_tracer_when_tracing_is_on(tmp_path):
    # Given tracing enabled
    # When every HTTP function is imported
    loaded = _python(_IMPORT_EVERY_HTTP_FUNCTION, tmp_path, TRACING_ENABLED="true")
    # Then the tracer is there (so the check above is about the setting, not an accident of imports)
    assert "aws_xray_sdk" in loaded


def test_traced_requests_send_handler_database_and_password_subsegments_to_the_xray_daemon(tmp_path):
    # Given tracing enabled inside a Lambda-like environment, and an X-Ray daemon listening on loopback
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(10)
    address = f"127.0.0.1:{daemon.getsockname()[1]}"
    try:
        # When the health function serves a request, and login one for an unknown e-mail address
        out = _python(
            _INVOKE_HEALTH_AND_LOGIN_IN_A_LAMBDA_LIKE_ENVIRONMENT,
            tmp_path,
            TRACING_ENABLED="true",
            LAMBDA_TASK_ROOT=str(ROOT),
            AWS_LAMBDA_FUNCTION_NAME="HealthFunction",
            AWS_XRAY_DAEMON_ADDRESS=address,
            AWS_XRAY_CONTEXT_MISSING="LOG_ERROR",
            _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        names = set()
        daemon.settimeout(2)
        try:
            while True:
                payload = daemon.recv(65535).decode().split("\n", 1)[1]
                names |= _subsegment_names(json.loads(payload))
        except TimeoutError:
            pass
    finally:
        daemon.close()
    # Then the daemon got the handlers' subsegments, the database's and the password check's
    assert out.splitlines()[-1] == "200 401"
    assert {"## handler", "database", "password_verify"} <= names, names


def _subsegment_names(document: dict) -> set[str]:
    names = {document.get("name", "")}
    for child in document.get("subsegments", []):
        names |= _subsegment_names(child)
    return names
