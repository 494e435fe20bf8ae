"""The template as it is, run by `sam local` in Lambda runtime containers built here (make test-sam).

Every function is invoked once in its container through `sam local start-lambda`, with its sample
event made to succeed (the benchmark's preparers seed what it needs); the HTTP API answers through
`sam local start-api` (the gateway suites of tests/<domain>/test_gateway.py run there too).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from invest_dev.bench.environment import NEEDS_AWS
from invest_dev.template import functions, http_functions
from tests.support.sam import RunningSam, running_sam

pytestmark = [pytest.mark.sam, pytest.mark.slow]
HTTP_FUNCTIONS = {spec.name for spec in http_functions()}
# The catch-all's sample asks for a route that does not exist: its answer is the contract's 404.
EXPECTED_STATUS = {"NotFoundFunction": 404}


@pytest.fixture(scope="module")
def sam_lambda(sam_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSam]:
    """`sam local start-lambda` with samconfig.toml's local flags: every container started first, kept warm."""
    with running_sam(["local", "start-lambda"], sam_database, tmp_path_factory.mktemp("sam-lambda")) as sam:
        yield sam


@pytest.fixture(scope="module")
def prepared_events(sam_database: str) -> dict[str, Any]:
    """Each function's event for one successful invocation, on the session's sam database. Made once the
    containers are up (the test asks for them after `sam_lambda`): a webhook signature and a stream ticket
    are good for minutes only."""
    env = {**os.environ, "DATABASE_URL": sam_database, "ENVIRONMENT": "dev", "METRICS_FILE": os.devnull}
    done = subprocess.run(
        [sys.executable, "-m", "invest_dev.sam.samples"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _invoke(sam: RunningSam, name: str, event: dict[str, Any]) -> Any:
    client = boto3.client(
        "lambda",
        endpoint_url=sam.base_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(read_timeout=120, retries={"max_attempts": 0}),
    )
    payload = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())["Payload"].read()
    try:
        return json.loads(payload or b"null")
    except ValueError:  # the emulator's own answer, such as a timeout's
        return {"errorType": "NotJson", "errorMessage": payload.decode(errors="replace")}


def test_every_function_answers_its_sample_event_in_its_runtime_container(sam_lambda, prepared_events):
    # Given every function of the template in its warm runtime container, and its sample event made to succeed
    assert set(prepared_events) == {spec.name for spec in functions()} - set(NEEDS_AWS)
    failures = {}
    for name, event in prepared_events.items():
        # When it is invoked through sam local start-lambda
        result = _invoke(sam_lambda, name, event)
        # Then it answers without an error: an HTTP function with its success status
        if isinstance(result, dict) and "errorType" in result:
            failures[name] = f"{result['errorType']}: {result.get('errorMessage', '')[:300]}"
        elif name in HTTP_FUNCTIONS:
            status = result.get("statusCode") if isinstance(result, dict) else None
            expected = EXPECTED_STATUS.get(name)
            if (status != expected) if expected else not (isinstance(status, int) and 200 <= status < 300):
                failures[name] = f"status {status}: {str(result)[:300]}"
    assert not failures, json.dumps(failures, indent=2)
    # And the emulator reported each invocation
    assert len(sam_lambda.reports()) >= len(prepared_events)


def test_the_api_answers_through_sam_local_start_api(sam_api):
    # Given the template served by sam local start-api, on the migrated PostgreSQL database
    # When a client asks for the health of the API
    response = sam_api.get("/v1/health")
    # Then it is healthy, its database up, in the development environment the local flags give
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "healthy"
    assert response.json()["dependencies"]["database"]["status"] == "up"
    assert response.json()["environment"] == "dev"
