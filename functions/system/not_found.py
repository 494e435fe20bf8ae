"""The HTTP API's $default route: 405 for a known path with the wrong method, 404 otherwise,
and CORS preflight answers for every route."""

from typing import Any

from investment_system.entrypoints import http_handler
from investment_system.http import NotFoundError, create_app
from investment_system.http.envelope import error_response
from investment_system.http.routing import preflight_response, unmatched_route_error

app = create_app(cors=False, validation=False)  # every route's fallback: nothing of its own to validate


@app.not_found
def route_not_found(_: NotFoundError) -> Any:
    event = app.current_event
    if event.http_method == "OPTIONS":
        return preflight_response(event.path, event.headers.get("origin"))
    return error_response(unmatched_route_error(event.http_method, event.path))


handler = http_handler(app)
