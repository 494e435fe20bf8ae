"""The local gateway (`invest serve`) over real HTTP.

Two gateways run for the module: the project's API (`invest serve`, on a SQLite database migrated
with `invest migrate`) and one in front of tests/fixtures/gateway/template.yaml, whose handlers echo
what they receive or misbehave on request.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from invest_dev.gateway.responses import GatewayError, http_response
from invest_dev.gateway.routing import RouteTable
from invest_dev.template import FunctionSpec, Route
from investment_system.http.resolver import SECURITY_HEADERS
from tests.support.gateway import (
    RunningGateway,
    invest_serve_command,
    migrated_api_environment,
    process_exists,
    serve_template_command,
)

pytestmark = pytest.mark.slow
FIXTURE_TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures/gateway/template.yaml"
CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
INTERNAL_ERROR = {"message": "Internal Server Error"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """`invest serve` on the project's template, after `invest migrate` of a fresh SQLite database."""
    workdir = tmp_path_factory.mktemp("gateway-api")
    gateway = RunningGateway(invest_serve_command(), migrated_api_environment(workdir))
    yield gateway
    assert gateway.stop() == 0


@pytest.fixture(scope="module")
def fixture_metrics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gateway-fixture") / "metrics.jsonl"


def _fixture_gateway(metrics_file: Path) -> RunningGateway:
    return RunningGateway(serve_template_command(FIXTURE_TEMPLATE), {**os.environ, "METRICS_FILE": str(metrics_file)})


@pytest.fixture(scope="module")
def fixture_api(fixture_metrics: Path) -> Iterator[RunningGateway]:
    """The gateway in front of the fixture template's handlers."""
    gateway = _fixture_gateway(fixture_metrics)
    yield gateway
    assert gateway.stop() == 0


def echoed(response: requests.Response) -> tuple[dict[str, Any], dict[str, Any]]:
    """The event and the container facts an echo handler answered with."""
    assert response.status_code == 200, response.text
    body = response.json()
    return body["event"], body["container"]


def assert_contract_headers(response: requests.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        if name != "Content-Security-Policy":  # the docs page brings its own; checked there
            assert response.headers[name] == value, name
    assert "Content-Security-Policy" in response.headers
    assert CORRELATION_ID.match(response.headers["X-Correlation-ID"])


# --- The project's API --------------------------------------------------------------------------


def test_health_is_served_with_contract_headers(api: RunningGateway) -> None:
    # Given the API served by `invest serve` on a migrated database
    # When a client asks for its health
    response = api.get("/v1/health")
    # Then it is healthy, with its database up, and carries the contract's headers
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response.json()["dependencies"]["database"]["status"] == "up"
    assert_contract_headers(response)
    assert response.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]


def test_openapi_document_is_served(api: RunningGateway) -> None:
    # When a client asks for the OpenAPI document
    response = api.get("/v1/openapi.json")
    # Then it gets the OpenAPI 3 document listing the health route
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["openapi"].startswith("3.")
    assert "/v1/health" in response.json()["paths"]
    assert_contract_headers(response)


def test_swagger_ui_and_its_assets_are_served_without_a_cdn(api: RunningGateway) -> None:
    # When a browser opens the docs page
    page = api.get("/v1/docs")
    # Then it is HTML whose scripts and styles come from the API itself
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert_contract_headers(page)
    references = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert {"/v1/docs/swagger-ui-bundle.min.js", "/v1/docs/swagger-ui.min.css"} <= set(references)
    assert not [ref for ref in references if "://" in ref]
    # And each asset is served
    for asset in ("/v1/docs/swagger-ui-bundle.min.js", "/v1/docs/swagger-ui.min.css"):
        response = api.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 10_000
        assert_contract_headers(response)


def test_unknown_path_is_route_not_found(api: RunningGateway) -> None:
    # When a client asks for a path no function serves
    response = api.get("/v1/no-such-thing")
    # Then the catch-all answers 404 ROUTE_NOT_FOUND in the error envelope
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "ROUTE_NOT_FOUND"
    assert error["correlation_id"] == response.headers["X-Correlation-ID"]
    assert_contract_headers(response)


def test_known_path_with_wrong_method_is_method_not_allowed(api: RunningGateway) -> None:
    # When a client POSTs to the GET-only health route
    response = requests.post(api.url("/v1/health"), json={}, timeout=30)
    # Then it gets 405 METHOD_NOT_ALLOWED, saying which method is allowed
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert response.headers["Allow"] == "GET"
    assert_contract_headers(response)


@pytest.mark.parametrize("path", ["/v1/health", "/v1/openapi.json", "/v1/docs", "/v1/nowhere"])
def test_well_formed_correlation_id_is_echoed(api: RunningGateway, path: str) -> None:
    # Given a client that sends a well-formed correlation ID
    # When it calls any route
    response = api.get(path, headers={"X-Correlation-ID": "client-trace:0001.a_b"})
    # Then the response carries the same ID
    assert response.headers["X-Correlation-ID"] == "client-trace:0001.a_b"


@pytest.mark.parametrize("sent", ["short", "has spaces in it", "x" * 129, "bad/slash-0001"])
def test_malformed_correlation_id_is_replaced(api: RunningGateway, sent: str) -> None:
    # Given a client that sends a malformed correlation ID
    # When it calls the API
    response = api.get("/v1/nowhere", headers={"X-Correlation-ID": sent})
    # Then the API answers with a fresh, well-formed one, also in the error body
    returned = response.headers["X-Correlation-ID"]
    assert returned != sent
    assert CORRELATION_ID.match(returned)
    assert response.json()["error"]["correlation_id"] == returned


def test_parallel_requests_are_all_answered(api: RunningGateway) -> None:
    # Given 20 clients at once, each with its own correlation ID
    ids = [f"parallel-request-{n:04d}" for n in range(20)]

    def call(cid: str) -> requests.Response:
        return api.get("/v1/health", headers={"X-Correlation-ID": cid})

    # When they all call the health route in parallel
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(call, ids))
    # Then every one gets its own healthy answer
    assert [r.status_code for r in responses] == [200] * 20
    assert [r.headers["X-Correlation-ID"] for r in responses] == ids
    assert [r.json()["correlation_id"] for r in responses] == ids


def test_metrics_go_to_the_metrics_file_and_logs_to_stdout(api: RunningGateway) -> None:
    # Given the gateway's metrics file (METRICS_FILE)
    metrics_file = Path(next(line for line in api.stderr if "metrics (EMF) ->" in line).split("-> ", 1)[1])
    # When a request is served
    api.get("/v1/health", headers={"X-Correlation-ID": "metrics-check-0001"})
    # Then its request metrics arrive there as one EMF document, tagged with its correlation ID
    deadline = time.monotonic() + 5
    documents: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not any(d.get("correlation_id") == "metrics-check-0001" for d in documents):
        time.sleep(0.05)
        lines = metrics_file.read_text().splitlines() if metrics_file.exists() else []
        documents = [json.loads(line) for line in lines]
    assert all("_aws" in d for d in documents)
    [request_metrics] = [d for d in documents if d.get("correlation_id") == "metrics-check-0001"]
    assert request_metrics["route"] == "GET /v1/health"
    assert "RequestLatency" in request_metrics
    assert "Requests2xx" in request_metrics
    # And no EMF document reaches the gateway's stdout
    assert not any('"_aws"' in line for line in api.stdout)


# --- Only what API Gateway serves, on the public port ---------------------------------------------

# What the emulated AWS APIs once took on the public port: any Authorization header of this form.
AWS_AUTHORIZATION = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/lambda/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
    "X-Amz-Date": "20260101T000000Z",
}


def test_lambda_invoke_path_is_an_unknown_route_on_the_public_port(api: RunningGateway) -> None:
    # Given a hand-made event of a health request
    event = {"version": "2.0", "routeKey": "GET /v1/health", "rawPath": "/v1/health", "headers": {}}
    event["requestContext"] = {"http": {"method": "GET", "path": "/v1/health", "sourceIp": "203.0.113.9"}}
    # When a client posts it to Lambda's Invoke path of the health function, on the API's port
    response = requests.post(
        api.url("/2015-03-31/functions/HealthFunction/invocations"),
        json=event,
        headers=AWS_AUTHORIZATION,
        timeout=30,
    )
    # Then the API answers as for any unknown route: the health function never runs it
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ROUTE_NOT_FOUND"


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_management_api_path_is_an_unknown_route_on_the_public_port(api: RunningGateway, method: str) -> None:
    # When a client calls the Management API's path of a connection, on the API's port
    response = requests.request(
        method, api.url("/v1/stream/@connections/abc%3D"), data=b'{"type":"x"}', headers=AWS_AUTHORIZATION, timeout=30
    )
    # Then the API answers as for any unknown route
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ROUTE_NOT_FOUND"


def test_x_forwarded_for_does_not_dodge_the_per_ip_rate_limit(api: RunningGateway) -> None:
    # Given a client at a loopback address no other test uses, so its per-IP window is its own
    host, port = api.base_url.removeprefix("http://").split(":")

    def remaining(forwarded_for: str) -> int:
        connection = http.client.HTTPConnection(host, int(port), timeout=30, source_address=("127.0.0.57", 0))
        connection.request("GET", "/v1/nowhere", headers={"X-Forwarded-For": forwarded_for})
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.status == 404
        return int(response.getheader("RateLimit-Remaining") or -1)

    # When it sends two anonymous requests, each claiming another origin in X-Forwarded-For
    first, second = remaining("198.51.100.1"), remaining("198.51.100.2")
    # Then both count against its own address: the header names no one's window
    assert second == first - 1


# --- What a handler receives and what becomes of its answer --------------------------------------


def test_request_becomes_a_payload_2_event(fixture_api: RunningGateway) -> None:
    # When a client calls a parameterised route with a query, cookies and a repeated header
    connection = http.client.HTTPConnection(fixture_api.base_url.removeprefix("http://"), timeout=30)
    connection.putrequest("GET", "/echo/J%C3%BCrgen?tag=a&tag=b&q=hello%20world&empty=")
    connection.putheader("X-Repeated", "one")
    connection.putheader("X-Repeated", "two")
    connection.putheader("Cookie", "session=abc; theme=dark")
    connection.putheader("User-Agent", "gateway-test")
    connection.endheaders()
    raw = connection.getresponse()
    response_body = json.loads(raw.read())
    connection.close()
    event = response_body["event"]
    # Then the handler gets an HTTP API payload-2.0 event describing the request
    assert raw.status == 200
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /echo/{name}"
    assert event["rawPath"] == "/echo/Jürgen"  # URL-decoded, as HTTP APIs pass it (test_sam_fidelity.py)
    assert event["pathParameters"] == {"name": "Jürgen"}
    assert event["rawQueryString"] == "tag=a&tag=b&q=hello%20world&empty="
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "hello world", "empty": ""}
    assert event["headers"]["x-repeated"] == "one,two"
    assert event["headers"]["user-agent"] == "gateway-test"
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in event["headers"]
    assert "body" not in event
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {
        "method": "GET",
        "path": "/echo/Jürgen",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "gateway-test",
    }
    assert context["requestId"] == raw.getheader("apigw-requestid")
    assert abs(context["timeEpoch"] - time.time() * 1000) < 60_000
    assert context["routeKey"] == "GET /echo/{name}"


def test_source_ip_is_the_tcp_peer_whatever_x_forwarded_for_says(fixture_api: RunningGateway) -> None:
    # When a client at 127.0.0.58 claims another origin in X-Forwarded-For
    host, port = fixture_api.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30, source_address=("127.0.0.58", 0))
    connection.request("GET", "/echo/forwarded", headers={"X-Forwarded-For": "1.2.3.4"})
    raw = connection.getresponse()
    event = json.loads(raw.read())["event"]
    connection.close()
    # Then the event's sourceIp is the address the request came from; the header keeps the claim,
    # followed by that address, as API Gateway appends it
    assert raw.status == 200
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.58"
    assert event["headers"]["x-forwarded-for"] == "1.2.3.4, 127.0.0.58"


def test_a_hand_made_event_posted_to_lambda_invoke_is_just_a_request(fixture_api: RunningGateway) -> None:
    # Given a hand-made event for the echo function, from a made-up source address
    event = {
        "version": "2.0",
        "routeKey": "GET /echo/{name}",
        "rawPath": "/echo/spoofed",
        "headers": {},
        "requestContext": {"http": {"method": "GET", "path": "/echo/spoofed", "sourceIp": "1.2.3.4"}},
    }
    # When a client posts it to Lambda's Invoke path of that function, on the gateway's port
    response = requests.post(
        fixture_api.url("/2015-03-31/functions/EchoFunction/invocations"),
        json=event,
        headers=AWS_AUTHORIZATION,
        timeout=30,
    )
    # Then it is an HTTP request like any other: the $default route's function gets it, from the
    # address it came from, and the echo function never sees the made-up event
    received, container = echoed(response)
    assert container["function_name"] == "DefaultFunction"
    assert received["routeKey"] == "$default"
    assert received["rawPath"] == "/2015-03-31/functions/EchoFunction/invocations"
    assert received["requestContext"]["http"]["sourceIp"] == "127.0.0.1"


def test_handler_runs_with_a_lambda_like_context(fixture_api: RunningGateway) -> None:
    # When a function with Timeout 5 and MemorySize 256 (template Globals) is invoked
    _, container = echoed(fixture_api.get("/echo/context"))
    # Then its context and environment are those of its Lambda function
    assert container["function_name"] == "EchoFunction"
    assert container["lambda_function_name"] == "EchoFunction"
    assert container["memory_limit_in_mb"] == 256
    assert 4_000 < container["remaining_ms"] <= 5_000
    assert container["aws_request_id"]
    assert container["greeting"] == "hello from the template"


def test_function_is_imported_once_and_kept_warm(fixture_api: RunningGateway) -> None:
    # When the same function is called one request after another
    first = echoed(fixture_api.get("/echo/one"))[1]
    second = echoed(fixture_api.get("/echo/two"))[1]
    # Then the same container, with its module state, answers both
    assert second["pid"] == first["pid"]
    assert second["invocations"] == first["invocations"] + 1


def test_static_route_wins_over_parameterised_one(fixture_api: RunningGateway) -> None:
    # Given routes GET /echo/static and GET /echo/{name} on different functions
    # When a client calls /echo/static and /echo/other
    static_event, static_container = echoed(fixture_api.get("/echo/static"))
    param_event, param_container = echoed(fixture_api.get("/echo/other"))
    # Then the static route takes the exact path and the parameterised one the rest
    assert static_container["function_name"] == "EchoStaticFunction"
    assert static_event["routeKey"] == "GET /echo/static"
    assert "pathParameters" not in static_event
    assert param_container["function_name"] == "EchoFunction"
    assert param_event["pathParameters"] == {"name": "other"}


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
def test_greedy_route_takes_any_method_and_the_rest_of_the_path(fixture_api: RunningGateway, method: str) -> None:
    # When a client calls a path under ANY /files/{proxy+}
    event, _ = echoed(requests.request(method, fixture_api.url("/files/reports/2024/q1.csv"), timeout=30))
    # Then the greedy parameter holds the rest of the path
    assert event["routeKey"] == "ANY /files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "reports/2024/q1.csv"}
    assert event["requestContext"]["http"]["method"] == method


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nowhere"),
        ("POST", "/echo/someone"),
        ("GET", "/files/"),
        ("GET", "/echo/static/deeper"),
        ("TRACE", "/echo/someone"),
        ("PROPFIND", "/nowhere"),
    ],
)
def test_unmatched_requests_go_to_the_default_route(fixture_api: RunningGateway, method: str, path: str) -> None:
    # When no route matches the method and path
    event, container = echoed(requests.request(method, fixture_api.url(path), timeout=30))
    # Then the $default route's function gets the request, with the whole path
    assert container["function_name"] == "DefaultFunction"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == path
    assert "pathParameters" not in event


def test_text_body_reaches_the_handler_as_text(fixture_api: RunningGateway) -> None:
    # When a client posts JSON
    event, _ = echoed(requests.post(fixture_api.url("/upload"), json={"price": "10.50", "note": "café"}, timeout=30))
    # Then the body arrives as text, not base64
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"price": "10.50", "note": "café"}
    assert event["headers"]["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/octet-stream", b"plain ascii, binary type"), ("text/plain", bytes(range(256)))],
)
def test_binary_body_reaches_the_handler_base64_encoded(
    fixture_api: RunningGateway, content_type: str, body: bytes
) -> None:
    # When a client posts a binary media type, or bytes that are not UTF-8
    headers = {"Content-Type": content_type}
    event, _ = echoed(requests.post(fixture_api.url("/upload"), data=body, headers=headers, timeout=30))
    # Then the handler gets them base64-encoded, flagged isBase64Encoded
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_binary_answer_is_decoded_for_the_client(fixture_api: RunningGateway) -> None:
    # Given every byte value
    body = bytes(range(256))
    # When a handler answers with them (reversed) as a base64-encoded body
    response = requests.post(
        fixture_api.url("/binary"), data=body, headers={"Content-Type": "application/octet-stream"}, timeout=30
    )
    # Then the client gets the raw bytes
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.content == body[::-1]


def test_answer_headers_and_cookies_become_http(fixture_api: RunningGateway) -> None:
    # When a handler answers with headers and two cookies
    connection = http.client.HTTPConnection(fixture_api.base_url.removeprefix("http://"), timeout=30)
    connection.request("GET", "/echo/cookies")
    response = connection.getresponse()
    response.read()
    connection.close()
    # Then each cookie is its own Set-Cookie header, beside the handler's headers
    assert response.status == 200
    assert response.getheader("X-Echo") == "yes"
    assert response.msg.get_all("Set-Cookie") == ["first=1; Path=/", "second=2; HttpOnly"]


def test_answer_without_status_code_is_a_json_body(fixture_api: RunningGateway) -> None:
    # When a handler returns a plain dictionary
    response = fixture_api.get("/bare")
    # Then API Gateway's rule applies: 200, JSON
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"hello": "world"}


def test_malformed_answer_is_bad_gateway(fixture_api: RunningGateway) -> None:
    # When a handler answers with a statusCode that is not a number
    response = fixture_api.get("/malformed")
    # Then the client gets API Gateway's 502
    assert response.status_code == 502
    assert response.json() == INTERNAL_ERROR


# --- Failures and concurrency --------------------------------------------------------------------


def test_handler_exception_is_bad_gateway_and_the_container_serves_on(fixture_api: RunningGateway) -> None:
    # Given a warm container of the function
    before = fixture_api.get("/trouble").json()
    # When its handler raises
    response = fixture_api.get("/trouble", params={"raise": "1"})
    # Then the client gets API Gateway's 502 and the error is logged with its stack trace
    assert response.status_code == 502
    assert response.json() == INTERNAL_ERROR
    logged = json.loads(fixture_api.wait_for_output(fixture_api.stdout, "the handler failed on purpose"))
    assert logged["errorType"] == "RuntimeError"
    assert logged["function"] == "TroubleFunction"
    assert any("raise RuntimeError" in frame for frame in logged["stackTrace"])
    # And the next request is served by the same container, as Lambda keeps it
    after = fixture_api.get("/trouble").json()
    assert after["pid"] == before["pid"]


def test_container_that_dies_is_replaced(fixture_api: RunningGateway) -> None:
    # Given a warm container of the function
    before = fixture_api.get("/trouble").json()
    # When its process exits in the middle of a request
    response = fixture_api.get("/trouble", params={"exit": "1"})
    # Then the client gets a 502, and the next request is served by a new container
    assert response.status_code == 502
    assert response.json() == INTERNAL_ERROR
    after = fixture_api.get("/trouble")
    assert after.status_code == 200
    assert after.json()["pid"] != before["pid"]
    assert not process_exists(before["pid"])


def test_handler_overrunning_its_timeout_is_stopped(fixture_api: RunningGateway) -> None:
    # Given a function whose template Timeout is 1 second
    before = fixture_api.get("/trouble").json()
    # When its handler would take 10 seconds
    started = time.monotonic()
    response = fixture_api.get("/trouble", params={"sleep": "10"})
    # Then the client gets a 502 after about a second, and a new container serves the next request
    assert response.status_code == 502
    assert time.monotonic() - started < 5
    fixture_api.wait_for_output(fixture_api.stderr, "Task timed out after 1.00 seconds")
    after = fixture_api.get("/trouble")
    assert after.status_code == 200
    assert after.json()["pid"] != before["pid"]


def test_parallel_requests_get_containers_of_their_own_up_to_the_cap(fixture_api: RunningGateway) -> None:
    # Given a function whose handler holds its container for half a second
    # When 12 clients call it at once
    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(lambda _: fixture_api.get("/sleep"), range(12)))
    # Then all are answered, by several containers but never more than 4, none serving two at once
    assert [r.status_code for r in responses] == [200] * 12
    pids = {r.json()["pid"] for r in responses}
    assert 2 <= len(pids) <= 4


def test_function_logs_reach_stdout_and_metrics_the_metrics_file(
    fixture_api: RunningGateway, fixture_metrics: Path
) -> None:
    # When a handler prints a JSON log line and an EMF document
    fixture_api.get("/echo/logging")
    # Then the log line passes through to the gateway's stdout
    logged = json.loads(fixture_api.wait_for_output(fixture_api.stdout, '"path": "/echo/logging"'))
    assert logged["message"] == "echo"
    # And the EMF document goes to the metrics file instead
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not fixture_metrics.exists():
        time.sleep(0.05)
    assert any("Echoes" in json.loads(line) for line in fixture_metrics.read_text().splitlines())
    assert not any('"_aws"' in line for line in fixture_api.stdout)


def test_access_log_line_per_request(fixture_api: RunningGateway) -> None:
    # When a request is served
    response = fixture_api.get("/echo/access-log")
    # Then the gateway logs it on stderr as JSON, with API Gateway's request ID
    line = json.loads(fixture_api.wait_for_output(fixture_api.stderr, response.headers["apigw-requestid"]))
    assert line["routeKey"] == "GET /echo/{name}"
    assert line["function"] == "EchoFunction"
    assert line["status"] == 200


# --- Shutting down -------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_gateway_stops_cleanly_with_its_containers(tmp_path: Path, signum: int) -> None:
    # Given a gateway whose containers are running
    gateway = _fixture_gateway(tmp_path / "metrics.jsonl")
    container_pid = echoed(gateway.get("/echo/running"))[1]["pid"]
    assert process_exists(container_pid)
    # When it gets Ctrl-C (SIGINT) or SIGTERM
    exit_code = gateway.stop(signum)
    # Then it exits with status 0, and none of its containers is left behind
    assert exit_code == 0
    assert not process_exists(container_pid)
    assert "stopping" in "\n".join(gateway.stderr)


def test_gateway_stopped_while_warming_up_leaves_no_container_behind(tmp_path: Path) -> None:
    # Given the project's gateway just listening, its containers still importing their functions
    gateway = RunningGateway(invest_serve_command(), migrated_api_environment(tmp_path))
    deadline = time.monotonic() + 10
    while not (children := _children_of(gateway.process.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert children
    # When it gets Ctrl-C
    started = time.monotonic()
    exit_code = gateway.stop(signal.SIGINT)
    # Then it exits at once with status 0, without waiting for the imports, and no container outlives it
    assert exit_code == 0
    assert time.monotonic() - started < 10
    assert not [pid for pid in children if process_exists(pid)]


def _children_of(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


# --- Route precedence and answer rules, without HTTP --------------------------------------------


def _table(*routes: tuple[str, str, str]) -> RouteTable:
    specs = [FunctionSpec(name, Path("."), "handler.handler", (Route(method, path),)) for name, method, path in routes]
    return RouteTable(reversed(specs))  # template order must not matter


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/items/special", "Static"),
        ("GET", "/items/42", "Parameter"),
        ("POST", "/items/42", "AnyParameter"),
        ("GET", "/items/42/parts/7", "Greedy"),
        ("GET", "/items/42/parts", "Greedy"),
        ("GET", "/other", "Default"),
        ("GET", "/items", "Default"),
    ],
)
def test_route_precedence_follows_api_gateway(method: str, path: str, expected: str) -> None:
    # Given static, parameterised, ANY, greedy and $default routes over the same paths
    table = _table(
        ("Static", "GET", "/items/special"),
        ("Parameter", "GET", "/items/{id}"),
        ("AnyParameter", "ANY", "/items/{id}"),
        ("Greedy", "ANY", "/items/{proxy+}"),
        ("Default", "ANY", "$default"),
    )
    # When a request is resolved / Then the most specific route takes it
    resolved = table.resolve(method, path)
    assert resolved is not None
    assert resolved[0].function.name == expected


def test_without_default_route_an_unmatched_request_resolves_to_nothing() -> None:
    # Given a template without $default / When nothing matches / Then API Gateway's own 404 is due
    assert _table(("Only", "GET", "/only")).resolve("GET", "/elsewhere") is None


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": 200, "headers": {"X-Bad": "a\r\nSet-Cookie: injected=1"}, "body": ""},
        {"statusCode": 200, "headers": {"X-Nested": {"a": 1}}, "body": ""},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "***", "isBase64Encoded": True},
        {"statusCode": True, "body": ""},
        {"statusCode": 99, "body": ""},
    ],
)
def test_malformed_results_are_bad_gateway(result: dict[str, Any]) -> None:
    # When a function's result cannot be a valid HTTP response / Then API Gateway's 502 is due
    with pytest.raises(GatewayError) as raised:
        http_response(result)
    assert raised.value.status == 502


def test_scalar_header_values_are_rendered_as_text() -> None:
    # When a function gives numbers and booleans as header values
    response = http_response({"statusCode": 201, "headers": {"X-Count": 3, "X-Flag": True}})
    # Then they are sent as text, and an absent body is empty
    assert response.status == 201
    assert ("X-Count", "3") in response.headers
    assert ("X-Flag", "true") in response.headers
    assert response.body == b""


def test_the_flags_file_edited_while_it_serves_switches_maintenance_on_and_off(tmp_path: Path) -> None:
    # Given `invest serve` on the project's template, its flags in a local file
    flags = tmp_path / "feature-flags.json"
    gateway = RunningGateway(invest_serve_command(), migrated_api_environment(tmp_path, FEATURE_FLAGS_FILE=str(flags)))
    try:
        # Then the file was made with the defaults, and a sign-up goes through
        assert json.loads(flags.read_text())["maintenance"] == {"default": False}
        signup = {"email": "flags@example.com", "password": "Plum-Orchard-Ledger-42"}
        assert requests.post(gateway.url("/v1/auth/register"), timeout=30, json=signup).status_code == 201

        # When maintenance is switched on in the file while it serves
        flags.write_text(json.dumps({"maintenance": {"default": True}}))

        # Then the next write answers 503 MAINTENANCE_MODE and health says so; a read is served
        refused = requests.post(
            gateway.url("/v1/auth/register"), timeout=30, json={**signup, "email": "later@example.com"}
        )
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "MAINTENANCE_MODE"
        assert int(refused.headers["Retry-After"]) > 0
        assert gateway.get("/v1/health").json()["maintenance"] is True
        assert gateway.get("/v1/billing/plans").status_code == 200

        # When it is switched off again, Then writes go through
        flags.write_text(json.dumps({"maintenance": {"default": False}}))
        assert (
            requests.post(
                gateway.url("/v1/auth/register"), timeout=30, json={**signup, "email": "after@example.com"}
            ).status_code
            == 201
        )
    finally:
        assert gateway.stop() == 0
