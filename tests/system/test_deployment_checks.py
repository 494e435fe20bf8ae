"""A gradual deploy's pre-traffic hook: the new versions of health and a token-checked read answer 2xx, or
CodeDeploy is told the deploy failed (and rolls it back)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from invest_dev.events import LambdaContextStub
from investment_system.entrypoints import deployment_hook
from investment_system.services.system import deployment_checks
from tests.support.functions import function_module

HEALTH_VERSION = "arn:aws:lambda:eu-west-1:123456789012:function:stack-health:7"
READ_VERSION = "arn:aws:lambda:eu-west-1:123456789012:function:stack-get-me:7"
VERSIONS = {HEALTH_VERSION: "HealthFunction", READ_VERSION: "GetMeFunction"}
HOOK_EVENT = {"DeploymentId": "d-EXAMPLE123", "LifecycleEventHookExecutionId": "hook-execution-1"}

type Answer = Callable[[str, dict[str, Any]], dict[str, Any]]


class NewVersions:
    """Lambda's Invoke of the new versions: each answers as `answer` says (by default, as the function's
    handler in this process answers the event)."""

    def __init__(self) -> None:
        self.invoked: list[tuple[str, str]] = []
        self.answer: Answer = lambda version, event: function_module(VERSIONS[version]).handler(
            event, LambdaContextStub(function_name=VERSIONS[version])
        )

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        event = json.loads(Payload)
        self.invoked.append((FunctionName, event["routeKey"]))
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.answer(FunctionName, event)).encode())}


@pytest.fixture
def new_versions(settings_env: pytest.MonkeyPatch) -> NewVersions:
    settings_env.setenv("DEPLOY_CHECK_HEALTH_VERSION", HEALTH_VERSION)
    settings_env.setenv("DEPLOY_CHECK_TOKEN_READ_VERSION", READ_VERSION)
    versions = NewVersions()
    settings_env.setattr(deployment_checks, "lambda_client", lambda: versions)
    return versions


@pytest.fixture
def codedeploy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """CodeDeploy's API, expecting the hook's status (botocore's Stubber: any other call fails the test)."""
    client = boto3.client("codedeploy", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    monkeypatch.setattr(deployment_hook, "codedeploy", lambda: client)

    def expect(status: str) -> None:
        stubber.add_response(
            "put_lifecycle_event_hook_execution_status",
            {"lifecycleEventHookExecutionId": HOOK_EVENT["LifecycleEventHookExecutionId"]},
            {**_hook_parameters(), "status": status},
        )

    with stubber:
        yield expect
        stubber.assert_no_pending_responses()


def _hook_parameters() -> dict[str, str]:
    return {
        "deploymentId": HOOK_EVENT["DeploymentId"],
        "lifecycleEventHookExecutionId": HOOK_EVENT["LifecycleEventHookExecutionId"],
    }


def run_hook() -> dict[str, Any]:
    return function_module("PreTrafficCheckFunction").handler(dict(HOOK_EVENT), LambdaContextStub("PreTrafficCheck"))


def test_new_versions_answering_2xx_let_the_deploy_shift_traffic(db, new_versions, codedeploy):
    # Given new versions of health and GET /v1/users/me that work (this process's handlers)
    codedeploy("Succeeded")
    # When CodeDeploy runs the pre-traffic hook
    result = run_hook()
    # Then each new version was asked once, the read with a token of the check's account, and CodeDeploy is
    # told Succeeded
    assert new_versions.invoked == [(HEALTH_VERSION, "GET /v1/health"), (READ_VERSION, "GET /v1/users/me")]
    assert result == {"status": "Succeeded"}


def test_the_check_reads_with_a_token_of_an_account_made_once(db, new_versions, codedeploy):
    # Given two deploys checked one after the other
    codedeploy("Succeeded")
    codedeploy("Succeeded")
    reads: list[dict[str, Any]] = []
    answer = new_versions.answer

    def recording(version: str, event: dict[str, Any]) -> dict[str, Any]:
        reply = answer(version, event)
        if version == READ_VERSION:
            reads.append(json.loads(reply["body"]))
        return reply

    new_versions.answer = recording
    run_hook()
    run_hook()
    # Then both reads were of the one deploy-check account
    assert [read["email"] for read in reads] == ["deploy-check@example.com"] * 2
    assert reads[0]["id"] == reads[1]["id"]


@pytest.mark.parametrize(
    ("failing", "answer"),
    [
        (HEALTH_VERSION, {"statusCode": 503, "body": '{"status": "unhealthy"}'}),
        (READ_VERSION, {"statusCode": 401, "body": '{"error": {"code": "TOKEN_INVALID"}}'}),
        (HEALTH_VERSION, {"errorType": "ImportModuleError", "errorMessage": "No module named 'x'"}),
    ],
)
def test_a_new_version_answering_anything_but_2xx_fails_the_deploy(db, new_versions, codedeploy, failing, answer):
    # Given a new version that answers 503, 401 or does not start
    healthy = new_versions.answer
    new_versions.answer = lambda version, event: answer if version == failing else healthy(version, event)
    codedeploy("Failed")
    # When CodeDeploy runs the pre-traffic hook, Then it is told Failed (the deploy rolls back)
    assert run_hook() == {"status": "Failed"}


def test_a_check_that_cannot_even_invoke_still_reports_failed(db, new_versions, codedeploy):
    def unreachable(version: str, event: dict[str, Any]) -> dict[str, Any]:
        raise ConnectionError("Lambda's API unreachable")

    new_versions.answer = unreachable
    codedeploy("Failed")
    assert run_hook() == {"status": "Failed"}
