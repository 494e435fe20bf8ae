"""GET /v1/health: the API's health and its dependencies'."""

from investment_system.entrypoints import http_handler
from investment_system.http import (
    OpenAPIResponse,
    RateLimit,
    Response,
    content_types,
    create_app,
    error_responses,
    route_facts,
)
from investment_system.schemas.health import HealthReport
from investment_system.services.system.health import check_health

app = create_app(validation=False)  # no parameters, body or token: nothing to validate
REPORT: OpenAPIResponse = {"content": {"application/json": {"model": HealthReport}}}


@app.get(
    "/v1/health",
    operation_id="getHealth",
    summary="Health of the API and its dependencies",
    description="healthy, or degraded when a non-critical dependency (the rate limiter) is down or maintenance is "
    "on: 200. unhealthy when the database is down: 503, with the same report. Not rate limited; no token needed.",
    tags=["Health"],
    responses={
        **error_responses(),
        200: {"description": "Healthy, or degraded (a non-critical dependency down, or maintenance)", **REPORT},
        503: {"description": "Unhealthy: the database is down", **REPORT},
    },
    openapi_extensions=route_facts(rate_limit=RateLimit.NONE),  # monitors must see an outage, not a 429
)
def get_health() -> Response[str]:
    report = check_health()
    status = 503 if report.status == "unhealthy" else 200
    return Response(status, content_types.APPLICATION_JSON, report.model_dump_json())


handler = http_handler(app)
