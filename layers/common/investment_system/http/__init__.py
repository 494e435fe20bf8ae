"""HTTP plumbing shared by every function: resolver factory, entry point, documented error responses."""

from investment_system.http.openapi import error_responses
from investment_system.http.resolver import create_app, lambda_handler

__all__ = ["create_app", "error_responses", "lambda_handler"]
