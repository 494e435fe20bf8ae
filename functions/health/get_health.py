"""GET /v1/health: the API's health and its dependencies'."""

from aws_lambda_powertools.event_handler import Response, content_types
from investment_system.http import create_app, error_responses, lambda_handler
from investment_system.schemas.health import HealthReport
from investment_system.services.health import check_health

app = create_app()


@app.get("/v1/health", summary="Health of the API and its dependencies", tags=["Health"], responses=error_responses())
def get_health() -> Response[HealthReport]:
    report = check_health()
    return Response(503 if report.status == "unhealthy" else 200, content_types.APPLICATION_JSON, report)


handler = lambda_handler(app)
