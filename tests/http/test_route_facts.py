"""Route-level facts (rate limit, no-store) are declared at the route and nowhere else."""

import ast
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from invest_dev.events import LambdaContextStub, http_event
from invest_dev.openapi import BUNDLED
from invest_dev.template import functions, import_function
from investment_system.entrypoints import http_handler
from investment_system.http import RateLimit, Response, create_app, route_facts
from investment_system.services.accounts.tokens import issue_token

LAYER = Path(__file__).resolve().parents[2] / "layers/common/investment_system"
ROUTE_KEY = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|ANY) /v1/\S*$")

app = create_app()


@app.get("/v1/reports/<report_id>", openapi_extensions=route_facts(rate_limit=RateLimit.PER_IP, no_store=True))
def get_report(report_id: str) -> Response[str]:
    return Response(200, "application/json", json.dumps({"id": report_id}))


@app.get("/v1/pings", openapi_extensions=route_facts(rate_limit=RateLimit.NONE))
def get_ping() -> Response[str]:
    return Response(200, "application/json", "{}")


@app.get("/v1/charts")
def get_chart() -> Response[str]:
    return Response(200, "application/json", "{}")


handler = http_handler(app)


def _token(requests_per_minute: int) -> str:
    now = datetime.now(UTC)
    return issue_token(
        uuid.uuid4(),
        "user",
        "access",
        session_id=uuid.uuid4(),
        epoch=0,
        expires_at=now + timedelta(minutes=5),
        now=now,
        requests_per_minute=requests_per_minute,
    )


def call(route_key: str, path: str) -> dict:
    method = route_key.split(" ")[0]
    event = http_event(method, path, route_key=route_key, headers={"authorization": f"Bearer {_token(500)}"})
    return handler(event, LambdaContextStub())["headers"]


def test_a_route_declaring_per_ip_and_no_store_gets_both_with_no_list_edited(settings_env):
    # Given routes of a new app outside the contract's no-store paths, one declaring per-IP counting and
    # no-store in its decorator, one declaring nothing
    settings_env.setenv("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "7")

    # When a caller with a token allowing 500 requests a minute calls each
    declared = call("GET /v1/reports/{report_id}", "/v1/reports/r1")
    undeclared = call("GET /v1/charts", "/v1/charts")

    # Then the declaring route counts the caller's IP and is not stored; the other counts the token's user
    assert (declared["RateLimit-Limit"], declared["Cache-Control"]) == ("7", "no-store")
    assert (undeclared["RateLimit-Limit"], "Cache-Control" in undeclared) == ("500", False)


def test_a_route_declaring_no_rate_limit_is_not_counted():
    headers = call("GET /v1/pings", "/v1/pings")
    assert not {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} & set(headers)


def test_the_document_shows_the_declared_facts_and_the_routes_served_beside_it():
    # Given the bundled document, generated from the functions' declarations
    document = json.loads(BUNDLED.read_text(encoding="utf-8"))
    # Then its operations carry what their routes declare, and the catch-all finds the docs' own routes there
    assert document["paths"]["/v1/auth/login"]["post"]["x-rate-limit"] == "per-ip"
    assert document["paths"]["/v1/health"]["get"]["x-rate-limit"] == "none"
    assert "x-rate-limit" not in document["paths"]["/v1/signals"]["get"]
    assert {"/v1/docs", "/v1/openapi.json"} <= set(document["x-undocumented-routes"])


def test_the_catch_all_knows_the_routes_the_docs_function_declares():
    # Given the catch-all, whose routes come from the document, and the docs' routes left out of it
    catch_all = import_function(next(spec for spec in functions() if spec.handler == "not_found.handler"))

    def answer(method: str, path: str) -> dict:
        reply: dict = catch_all.handler(http_event(method, path, route_key="$default"), LambdaContextStub())
        return reply

    # When another method comes for one of them / Then it is 405 with the method the docs route declares
    for path in ("/v1/docs", "/v1/openapi.json", "/v1/docs/swagger-ui.min.css"):
        reply = answer("POST", path)
        assert (reply["statusCode"], reply["headers"]["Allow"]) == (405, "GET"), path
    assert answer("POST", "/v1/nowhere")["statusCode"] == 404


def test_no_module_of_the_layer_lists_routes():
    # Given every string literal of the layer's code
    listed = [
        (path.relative_to(LAYER).as_posix(), node.value)
        for path in LAYER.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and ROUTE_KEY.match(node.value)
    ]
    # Then none is a route key: what a route is, it says in its own decorator
    assert listed == []
