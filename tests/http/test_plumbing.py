"""The resolver factory and entry point: envelope, headers and correlation IDs on every path."""

import json
from decimal import Decimal

import pytest
from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, ConfigDict, Field

from invest_dev.events import LambdaContextStub, http_event
from investment_system.entrypoints import http_handler
from investment_system.errors import AppError, ErrorCode
from investment_system.http import create_app
from investment_system.http.request_body import json_body_parser, parse_json_body
from investment_system.http.resolver import SECURITY_HEADERS
from investment_system.observability import logger
from investment_system.settings import get_settings
from tests.support.functions import record_calls

app = create_app()


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3)
    password: str = Field(min_length=12)


@app.post("/v1/auth/echo")
def echo(body: Credentials) -> dict[str, str]:
    logger.info("login attempt", extra={"password": body.password, "email": body.email})
    return {"email": body.email}


@app.get("/v1/things/<thing_id>")
def get_thing(thing_id: str) -> Response[str]:
    if thing_id == "missing":
        raise AppError(ErrorCode.SIGNAL_NOT_FOUND)
    if thing_id == "boom":
        raise RuntimeError("connect failed: postgresql://app:hunter2@db/invest password=hunter2")
    return Response(200, "application/json", json.dumps({"id": thing_id}))


handler = http_handler(app)


def call(method, path, body=None, headers=None, query=None):
    event = http_event(
        method, path, headers={"content-type": "application/json", **(headers or {})}, body=body, query=query
    )
    response = handler(event, LambdaContextStub())
    return response, json.loads(response["body"]) if response.get("body") else None


def assert_contract_headers(response, correlation_id=None):
    for name, value in SECURITY_HEADERS.items():
        assert response["headers"][name] == value
    assert response["headers"]["X-Correlation-ID"]
    if correlation_id:
        assert response["headers"]["X-Correlation-ID"] == correlation_id


def test_success_carries_security_headers_and_the_callers_correlation_id():
    response, body = call("GET", "/v1/things/abc", headers={"X-Correlation-ID": "req-12345678"})
    assert response["statusCode"] == 200
    assert body == {"id": "abc"}
    assert_contract_headers(response, "req-12345678")


@pytest.mark.parametrize("bad_id", ["short", "has spaces in it", "x" * 129, "semi;colon1"])
def test_malformed_correlation_ids_are_replaced_by_new_ones(bad_id):
    response, body = call("GET", "/v1/things/missing", headers={"X-Correlation-ID": bad_id})
    new_id = response["headers"]["X-Correlation-ID"]
    assert new_id != bad_id
    assert body["error"]["correlation_id"] == new_id


def test_service_errors_become_the_envelope_with_headers():
    response, body = call("GET", "/v1/things/missing", headers={"X-Correlation-ID": "req-abcdefgh"})
    assert response["statusCode"] == 404
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "correlation_id", "timestamp"}
    assert body["error"]["code"] == "SIGNAL_NOT_FOUND"
    assert body["error"]["correlation_id"] == "req-abcdefgh"
    assert_contract_headers(response, "req-abcdefgh")


def test_unexpected_errors_are_500_without_leaking_and_logged_with_stack_trace(json_logs):
    response, body = call("GET", "/v1/things/boom", headers={"X-Correlation-ID": "req-boom-0001"})
    assert response["statusCode"] == 500
    assert body["error"]["code"] == "INTERNAL_ERROR"
    assert "hunter2" not in response["body"]
    assert "Traceback" not in response["body"]
    assert_contract_headers(response, "req-boom-0001")
    failure = next(entry for entry in json_logs() if entry["message"] == "Unhandled error")
    assert failure["correlation_id"] == "req-boom-0001"
    assert "RuntimeError" in failure["exception"]
    assert "hunter2" not in json.dumps(failure)


def test_malformed_json_is_400_with_headers():
    response, body = call("POST", "/v1/auth/echo", body='{"email": ')
    assert response["statusCode"] == 400
    assert body["error"]["code"] == "MALFORMED_JSON"
    assert_contract_headers(response)
    assert response["headers"]["Cache-Control"] == "no-store"


def test_validation_errors_are_422_with_field_details_that_never_echo_the_input():
    secret = "tiny-pass"
    response, body = call("POST", "/v1/auth/echo", body=json.dumps({"email": "a@b.c", "password": secret, "x": 1}))
    assert response["statusCode"] == 422
    assert body["error"]["code"] == "VALIDATION_ERROR"
    fields = {detail["field"]: detail for detail in body["error"]["details"]}
    assert set(fields) == {"password", "x"}
    assert fields["x"]["type"] == "extra_forbidden"
    assert all(set(detail) == {"field", "message", "type"} for detail in body["error"]["details"])
    assert secret not in response["body"]
    assert_contract_headers(response)
    assert response["headers"]["Cache-Control"] == "no-store"


def test_unknown_route_is_404_route_not_found_with_headers():
    response, body = call("GET", "/v1/nowhere")
    assert response["statusCode"] == 404
    assert body["error"]["code"] == "ROUTE_NOT_FOUND"
    assert_contract_headers(response)


def test_cache_control_no_store_only_under_sensitive_prefixes():
    ok, _ = call("POST", "/v1/auth/echo", body=json.dumps({"email": "a@b.c", "password": "long-enough-pw"}))
    public, _ = call("GET", "/v1/things/abc")
    assert ok["headers"]["Cache-Control"] == "no-store"
    assert "Cache-Control" not in public["headers"]


def test_log_lines_are_json_with_correlation_id_and_passwords_redacted(json_logs):
    password = "correct-horse-battery"
    call(
        "POST",
        "/v1/auth/echo",
        body=json.dumps({"email": "a@b.c", "password": password}),
        headers={"X-Correlation-ID": "req-logs-0001", "Authorization": "Bearer eyJhbGciOi.eyJzdWIiOi.sig"},
    )
    logs = json_logs()
    attempt = next(entry for entry in logs if entry["message"] == "login attempt")
    assert attempt["correlation_id"] == "req-logs-0001"
    assert attempt["password"] == "[REDACTED]"
    assert password not in json.dumps(logs)


@pytest.mark.parametrize("spelling", ["x-correlation-id", "X-Correlation-ID", "X-CORRELATION-ID"])
def test_request_headers_are_read_whatever_their_case(spelling):
    # Given an event whose header names are spelled as the client sent them (API Gateway lower-cases them,
    # other sources of events may not)
    event = http_event("POST", "/v1/auth/echo", body="email=a")
    event["headers"] = {spelling: "req-case-0001", "Content-TYPE": "text/plain"}

    # When it is answered
    response = handler(event, LambdaContextStub())
    body = json.loads(response["body"])

    # Then its correlation ID and its content type were both found
    assert response["headers"]["X-Correlation-ID"] == "req-case-0001"
    assert body["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_each_request_logs_its_own_correlation_id(json_logs):
    # Given one container answering requests in turn, two with their own correlation IDs and one without
    body = json.dumps({"email": "a@b.c", "password": "long-enough-pw"})
    call("POST", "/v1/auth/echo", body=body, headers={"X-Correlation-ID": "req-first-0001"})
    call("POST", "/v1/auth/echo", body=body, headers={"X-Correlation-ID": "req-second-0002"})
    third, _ = call("POST", "/v1/auth/echo", body=body)

    # When their log lines are read / Then each carries its own request's ID, never an earlier one's
    logged = [entry["correlation_id"] for entry in json_logs() if entry["message"] == "login attempt"]
    assert logged == ["req-first-0001", "req-second-0002", third["headers"]["X-Correlation-ID"]]


def test_cors_allows_only_the_configured_origins(settings_env):
    # Given an API configured for one browser origin
    settings_env.setenv("CORS_ALLOWED_ORIGINS", "https://app.example.com")
    cors_app = create_app()

    @cors_app.get("/v1/things")
    def things() -> dict[str, str]:
        return {"ok": "yes"}

    cors_handler = http_handler(cors_app)

    def get(origin):
        event = http_event("GET", "/v1/things", headers={"origin": origin})
        return cors_handler(event, LambdaContextStub())["headers"]

    # When that origin and another one call / Then only the configured one is allowed
    assert get("https://app.example.com")["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Access-Control-Allow-Origin" not in get("https://evil.example")


def test_cors_preflight_is_answered_with_the_allowed_headers(settings_env):
    settings_env.setenv("CORS_ALLOWED_ORIGINS", "https://app.example.com")
    cors_app = create_app()
    event = http_event(
        "OPTIONS",
        "/v1/anything",
        headers={"origin": "https://app.example.com", "access-control-request-method": "POST"},
    )
    response = http_handler(cors_app)(event, LambdaContextStub())
    assert response["statusCode"] == 204
    assert "Idempotency-Key" in response["headers"]["Access-Control-Allow-Headers"]
    assert response["headers"]["X-Correlation-ID"]


def test_unknown_query_parameters_are_422_naming_them():
    response, body = call("GET", "/v1/things/abc", query={"sybmol": "AAPL"})
    assert response["statusCode"] == 422
    assert body["error"]["details"] == [
        {"field": "query.sybmol", "message": "Unknown query parameter", "type": "extra_forbidden"}
    ]


def test_query_parameters_on_unknown_routes_still_get_404():
    response, body = call("GET", "/v1/nowhere", query={"x": "1"})
    assert response["statusCode"] == 404
    assert body["error"]["code"] == "ROUTE_NOT_FOUND"


def _nested(levels: int) -> str:
    return '{"a": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


def test_a_body_at_the_limits_is_read_and_one_past_them_is_malformed_json():
    limits = get_settings().requests
    longest = "0." + "5" * (limits.json_max_number_length - 2)
    # A body exactly at the depth and number-length limits is read (numbers exactly, where asked)
    assert set(parse_json_body(_nested(limits.json_max_depth))) == {"a"}
    assert json_body_parser(exact_decimals=True)(f'{{"p": {longest}}}') == {"p": Decimal(longest)}
    assert json_body_parser(exact_decimals=False)('{"p": 1, "q": 0.5}') == {"p": 1, "q": 0.5}
    # One past either limit is refused as malformed, saying which
    for body, says in ((_nested(limits.json_max_depth + 1), "deeper"), (f'{{"p": {longest}1}}', "longer")):
        with pytest.raises(AppError) as refused:
            parse_json_body(body)
        assert refused.value.code is ErrorCode.MALFORMED_JSON
        assert says in refused.value.message


def test_a_body_that_is_not_one_object_is_a_validation_error_naming_the_body():
    response, body = call("POST", "/v1/auth/echo", body=json.dumps([{"email": "a@b.c", "password": "long-enough-pw"}]))
    assert response["statusCode"] == 422
    assert body["error"]["details"] == [
        {"field": "body", "message": "The body must be one JSON object.", "type": "model_type"}
    ]


def test_the_body_size_limit_is_a_setting(settings_env):
    settings_env.setenv("REQUEST_BODY_MAX_BYTES", "64")
    fits = json.dumps({"email": "a@b.c", "password": "long-enough-pw"})
    assert call("POST", "/v1/auth/echo", body=fits)[0]["statusCode"] == 200
    response, body = call("POST", "/v1/auth/echo", body=fits + " " * (65 - len(fits)))
    assert (response["statusCode"], body["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert_contract_headers(response)


def test_every_answer_varies_with_the_origin(settings_env):
    # Given an API configured for one browser origin, preflight answers cached for a set time
    settings_env.setenv("CORS_ALLOWED_ORIGINS", "https://app.example.com")
    settings_env.setenv("CORS_MAX_AGE_SECONDS", "900")
    cors_app = create_app()

    @cors_app.get("/v1/things")
    def things() -> dict[str, str]:
        return {"ok": "yes"}

    cors_handler = http_handler(cors_app)

    def send(method, origin=None, **headers):
        event = http_event(method, "/v1/things", headers={**({"origin": origin} if origin else {}), **headers})
        return cors_handler(event, LambdaContextStub())["headers"]

    # Then answers for the allowed origin, another origin and no origin all say they vary with it
    for headers in (send("GET", "https://app.example.com"), send("GET", "https://evil.example"), send("GET")):
        assert headers["Vary"] == "Origin"
    preflight = send("OPTIONS", "https://app.example.com", **{"access-control-request-method": "GET"})
    assert (preflight["Vary"], preflight["Access-Control-Max-Age"]) == ("Origin", "900")


def test_snapstart_priming_builds_the_validators_of_a_routes_body_and_response(monkeypatch):
    # Given a route taking and returning models that build their validators on first use, primed as
    # before a SnapStart snapshot
    from pydantic import TypeAdapter

    from investment_system.http.resolver import prime
    from investment_system.schemas import ApiModel

    class Note(ApiModel):
        text: str = Field(max_length=20)

    class Noted(ApiModel):
        text: str
        length: int

    notes_app = create_app()

    @notes_app.post("/v1/notes")
    def add_note(note: Note) -> Noted:
        return Noted(text=note.text, length=len(note.text))

    notes_handler = http_handler(notes_app)
    prime(notes_app)
    built_after_priming = record_calls(monkeypatch, TypeAdapter, "rebuild")
    # When the first request after the restore comes, and one the body model refuses
    json_type = {"content-type": "application/json"}
    ok = notes_handler(http_event("POST", "/v1/notes", headers=json_type, body='{"text": "buy"}'), LambdaContextStub())
    refused = notes_handler(
        http_event("POST", "/v1/notes", headers=json_type, body=json.dumps({"text": "x" * 21})), LambdaContextStub()
    )
    # Then both are answered by validators priming built: none is built while a user waits
    assert (ok["statusCode"], json.loads(ok["body"])) == (200, {"text": "buy", "length": 3})
    assert refused["statusCode"] == 422
    assert built_after_priming == []
