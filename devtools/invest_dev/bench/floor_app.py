"""The floors `make bench` measures beside the cold-start targets: the least a function of this API can load.

Powertools (routing, Logger, Metrics) and pydantic, plus SQLAlchemy for health, and nothing else: a
lower bound on a cold start that slicing the layer cannot go under. Like every function they import
the layer's package first (so Powertools' packages are deferred the same way) and run with the
functions' runtime packages and method. `handler` is the floor of the functions without a database
(docs, not-found, plans), `database_handler` (the engine and `SELECT 1`) that of GET /v1/health.
"""

# ruff: noqa: I001 (import order is part of the measure: the layer's package before Powertools)
import os
from typing import Any

# The layer's package first, as in every function: Powertools' packages then load a module per name used.
import investment_system  # noqa: F401
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel


class Config(BaseModel):
    service: str
    database_url: str


CONFIG = Config(service="floor", database_url=os.environ.get("DATABASE_URL", "sqlite://"))
logger = Logger(service=CONFIG.service)
metrics = Metrics(namespace="Floor", service=CONFIG.service)
app = APIGatewayHttpResolver()


@app.get("/v1/health")
def health() -> Response[str]:
    return Response(200, content_types.APPLICATION_JSON, '{"status": "healthy"}')


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    return app.resolve(event, context)


def database_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    with create_engine(CONFIG.database_url).connect() as connection:
        connection.execute(text("SELECT 1"))
    answer: dict[str, Any] = handler(event, context)
    return answer
