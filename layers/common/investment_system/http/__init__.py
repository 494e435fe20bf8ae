"""HTTP plumbing shared by every function: resolver factory, entry point, error envelope."""

from investment_system.http.resolver import create_app, error_responses, lambda_handler

__all__ = ["create_app", "error_responses", "lambda_handler"]
