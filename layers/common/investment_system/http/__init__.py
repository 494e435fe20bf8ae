"""HTTP plumbing shared by every function: resolver factory, entry point, documented error responses.

It also re-exports what handlers use of Powertools' event handler, so that a handler's first import is
the layer's and `investment_system.lazy_packages` is in place before Powertools' packages load.
"""

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from investment_system.http.openapi import error_responses
from investment_system.http.resolver import create_app, lambda_handler

__all__ = [
    "NotFoundError",
    "OpenAPIResponse",
    "Query",
    "Response",
    "content_types",
    "create_app",
    "error_responses",
    "lambda_handler",
]
