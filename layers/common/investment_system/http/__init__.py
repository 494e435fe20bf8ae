"""HTTP plumbing shared by every HTTP function: resolver factory, documented error responses.

It also re-exports what handlers use of Powertools' event handler, so that a handler's first import is
the layer's and `investment_system.lazy_packages` is in place before Powertools' packages load.
`Query` comes from Powertools' OpenAPI parameter module, which an app without validation (health,
docs, the catch-all) never needs: it loads when a handler first imports it.
"""

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from investment_system.http.openapi import CONDITIONAL_CHANGES, SIGNAL_OPERATIONS, error_responses, links
from investment_system.http.resolver import create_app
from investment_system.http.route_facts import RateLimit, route_facts

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.params import Query

__all__ = [
    "CONDITIONAL_CHANGES",
    "SIGNAL_OPERATIONS",
    "NotFoundError",
    "OpenAPIResponse",
    "Query",
    "RateLimit",
    "Response",
    "content_types",
    "create_app",
    "error_responses",
    "links",
    "route_facts",
]


def __getattr__(name: str) -> Any:
    if name == "Query":
        from aws_lambda_powertools.event_handler.openapi.params import Query

        return Query
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
