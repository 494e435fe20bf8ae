"""The events a handler receives through `sam local start-api` and through the project's gateway
(`invest serve`), for the same requests: the same, but for the differences listed here.

Both serve tests/fixtures/gateway/template.yaml, whose echo handlers answer with their event. Where the
two differ, API Gateway's own behaviour decides: `invest serve` is fixed to it (the URL-decoded rawPath
was one), and what sam local does otherwise is undone by `_as_api_gateway_sends_it`, one line per
difference, each also in docs/development.md's table (what sam local cannot do).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway import RunningGateway, serve_template_command
from tests.support.sam import RunningSam, running_sam

pytestmark = [pytest.mark.sam, pytest.mark.slow]
FIXTURE_TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures/gateway/template.yaml"
ANY_ROUTES = {"/files/{proxy+}"}  # the fixture's routes of method ANY
# Values that differ by nature between two runs or two servers: compared by presence only.
PER_RUN = {"requestId", "time", "timeEpoch", "accountId", "apiId", "domainName", "domainPrefix"}
PER_SERVER_HEADERS = {"host", "x-forwarded-port"}

# (method, target, headers, body): what a client may send.
REQUESTS = [
    (
        "GET",
        "/echo/Ada%20Lovelace?b=2&a=1&a=3&empty=&sp=x%20y+z&enc=%2F%3D%26&utf=%C3%BC",
        [("X-MiXeD-Case", "Value"), ("Cookie", "a=1; b=2"), ("X-Dup", "one"), ("X-Dup", "two")],
        None,
    ),
    ("GET", "/echo/J%C3%BCrgen", [("User-Agent", "fidelity-test/1")], None),
    ("POST", "/upload", [("Content-Type", "application/json")], b'{"x": [1, 2]}'),
    ("POST", "/upload", [("Content-Type", "text/plain; charset=utf-8")], "héllo wörld".encode()),
    ("POST", "/upload", [], b"no content type"),
    ("PUT", "/files/a/b%20c/d.txt?x=1", [("Content-Type", "application/xml")], b"<a/>"),
    ("GET", "/nowhere/else?x=1", [("Cookie", "only=one")], None),
]


@pytest.fixture(scope="module")
def sam_fixture_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSam]:
    """sam local start-api on the fixture template (plain handlers, no layer), in the runtime image."""
    workdir = tmp_path_factory.mktemp("sam-fidelity")
    extra = ("--template", str(FIXTURE_TEMPLATE), "--warm-containers", "LAZY")
    with running_sam(["local", "start-api"], None, workdir, *extra) as sam:
        yield sam


@pytest.fixture(scope="module")
def invest_fixture_api() -> Iterator[RunningGateway]:
    gateway = RunningGateway(serve_template_command(FIXTURE_TEMPLATE), {**os.environ})
    yield gateway
    assert gateway.stop() == 0


def _send(base_url: str, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None) -> Any:
    """The request exactly as given (repeated headers, no header added but Host and Content-Length)."""
    connection = http.client.HTTPConnection(base_url.removeprefix("http://"), timeout=120)
    connection.putrequest(method, target, skip_accept_encoding=True)
    for name, value in headers:
        connection.putheader(name, value)
    if body is not None:
        connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    response = connection.getresponse()
    answer = response.read()
    connection.close()
    return response.status, answer


def _echoed_event(status: int, answer: bytes) -> dict[str, Any]:
    assert status == 200, answer[:300]
    return dict(json.loads(answer)["event"])


def _as_api_gateway_sends_it(event: dict[str, Any], client_ip: str) -> dict[str, Any]:
    """sam local's event with each of its known differences from API Gateway's undone."""
    fixed = json.loads(json.dumps(event))
    headers = {name.lower(): value for name, value in fixed["headers"].items()}  # it keeps the client's case
    headers.pop("cookie", None)  # it leaves Cookie among the headers besides `cookies`
    headers.setdefault("x-forwarded-for", client_ip)  # it adds no X-Forwarded-For
    fixed["headers"] = headers
    if fixed.get("body") == "":  # it sends an empty body, and an empty cookie list, when there is none
        del fixed["body"]
    if fixed.get("cookies") == []:
        del fixed["cookies"]
    if fixed.get("stageVariables") is None:  # it sends null stage variables
        fixed.pop("stageVariables", None)
    # it names the catch-all's path as a path parameter, and sends empty path parameters
    if fixed["routeKey"] == "$default" or fixed.get("pathParameters") == {}:
        fixed.pop("pathParameters", None)
    _, _, path = fixed["routeKey"].partition(" ")
    if path in ANY_ROUTES:  # it puts the request's method in an ANY route's key
        fixed["routeKey"] = fixed["requestContext"]["routeKey"] = f"ANY {path}"
    # it sends a fixed user agent
    fixed["requestContext"]["http"]["userAgent"] = headers.get("user-agent", "")
    return fixed


def _comparable(event: dict[str, Any]) -> dict[str, Any]:
    """The event with what differs per run or per server reduced to its presence."""
    comparable = json.loads(json.dumps(event))
    for name in PER_RUN & comparable["requestContext"].keys():
        comparable["requestContext"][name] = "<present>"
    for name in PER_SERVER_HEADERS & comparable["headers"].keys():
        comparable["headers"][name] = "<present>"
    return comparable


@pytest.mark.parametrize(("method", "target", "headers", "body"), REQUESTS, ids=[f"{r[0]} {r[1]}" for r in REQUESTS])
def test_the_handler_gets_the_same_event_through_both_gateways(
    sam_fixture_api, invest_fixture_api, method, target, headers, body
):
    # Given the same handler behind sam local start-api and behind invest serve
    # When a client sends both the same request
    through_sam = _echoed_event(*_send(sam_fixture_api.base_url, method, target, headers, body))
    through_invest = _echoed_event(*_send(invest_fixture_api.base_url, method, target, headers, body))
    # Then the handler gets the same event: headers, cookies, query string, rawPath, requestContext, body,
    # once sam local's listed differences from API Gateway are undone
    client_ip = through_invest["requestContext"]["http"]["sourceIp"]
    assert _comparable(_as_api_gateway_sends_it(through_sam, client_ip)) == _comparable(through_invest)


def test_times_are_milliseconds_through_invest_serve_and_seconds_through_sam_local(sam_fixture_api, invest_fixture_api):
    # When the same request goes through both gateways
    through_sam = _echoed_event(*_send(sam_fixture_api.base_url, "GET", "/echo/time", [], None))
    through_invest = _echoed_event(*_send(invest_fixture_api.base_url, "GET", "/echo/time", [], None))
    # Then invest serve's timeEpoch is in milliseconds, as API Gateway's; sam local's is in seconds
    assert through_invest["requestContext"]["timeEpoch"] > 10**12
    assert through_sam["requestContext"]["timeEpoch"] < 10**11


def test_a_binary_body_is_base64_through_invest_serve_and_refused_by_sam_local(sam_fixture_api, invest_fixture_api):
    # Given a body that is not UTF-8 text
    body, headers = bytes(range(256)), [("Content-Type", "application/octet-stream")]
    # When it is posted through both gateways
    sam_status, _ = _send(sam_fixture_api.base_url, "POST", "/upload", headers, body)
    through_invest = _echoed_event(*_send(invest_fixture_api.base_url, "POST", "/upload", headers, body))
    # Then invest serve hands it over base64-encoded, as API Gateway does; sam local answers 502 instead
    assert through_invest["isBase64Encoded"] is True
    assert base64.b64decode(through_invest["body"]) == body
    assert sam_status == 502
