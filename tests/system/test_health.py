"""GET /v1/health through the function's handler."""

from investment_system.http.resolver import SECURITY_HEADERS
from tests.support.functions import invoke


def test_health_reports_healthy_database_on_every_backend(db):
    # Given a migrated database
    # When the health endpoint is called with a well-formed correlation ID
    reply = invoke("HealthFunction", "GET", "/v1/health", headers={"X-Correlation-ID": "health-check-0001"})
    # Then the API is healthy, the database up, and the correlation ID echoed in body and header
    assert reply.status == 200
    assert reply.json["status"] == "healthy"
    assert reply.json["dependencies"]["database"]["status"] == "up"
    assert reply.json["correlation_id"] == "health-check-0001"
    assert reply.headers["X-Correlation-ID"] == "health-check-0001"
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers[name] == value
