"""The HTTP API's $default route: 405 for a known path with the wrong method, 404 otherwise."""

from typing import Any

from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from investment_system.http import create_app, lambda_handler
from investment_system.http.envelope import error_response
from investment_system.services.routing import unmatched_route_error

app = create_app()


@app.not_found
def route_not_found(_: NotFoundError) -> Any:
    return error_response(unmatched_route_error(app.current_event.http_method, app.current_event.path))


handler = lambda_handler(app)
