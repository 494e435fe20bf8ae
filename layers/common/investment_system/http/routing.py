"""What the catch-all function answers: 405 for a known path with another method, else 404.

The routes come from the OpenAPI document bundled with the layer (generated from the functions by
`invest generate`, kept current by a test), so the catch-all needs no route table of its own.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from aws_lambda_powertools.event_handler import Response

from investment_system.errors import AppError, ErrorCode
from investment_system.http.envelope import MethodNotAllowed, error_response
from investment_system.http.openapi import UNDOCUMENTED_ROUTES
from investment_system.http.resolver import cors_config


@cache
def openapi_document() -> str:
    """The bundled OpenAPI document, as JSON text (released with the layer: read once per container)."""
    return Path(__file__).parent.parent.joinpath("openapi.json").read_text(encoding="utf-8")


# A path template split at "/": "/v1/signals/{id}" is ("", "v1", "signals", "{id}").
PathTemplate = tuple[str, ...]


@cache
def _route_table() -> list[tuple[PathTemplate, frozenset[str]]]:
    document = json.loads(openapi_document())
    routes = [*document.get("paths", {}).items(), *document.get(UNDOCUMENTED_ROUTES, {}).items()]
    return [(tuple(p.split("/")), frozenset(m.upper() for m in methods)) for p, methods in routes]


def _matches(template: PathTemplate, path: str) -> bool:
    """Whether `path` is one of the template's: its segments equal, a `{parameter}` taking any non-empty one."""
    segments = path.split("/")
    if len(segments) != len(template):
        return False
    return all(s == part or (part.startswith("{") and s != "") for part, s in zip(template, segments, strict=True))


def allowed_methods(path: str) -> list[str]:
    """The methods some function serves on `path` (empty for an unknown path)."""
    return sorted({m for template, methods in _route_table() if _matches(template, path) for m in methods})


def unmatched_route_error(method: str, path: str) -> AppError:
    allowed = allowed_methods(path)
    if allowed:
        return MethodNotAllowed(allowed)
    return AppError(ErrorCode.ROUTE_NOT_FOUND)


def preflight_response(path: str, origin: str | None) -> Response[str]:
    """A CORS preflight answer for any route (API Gateway's CorsConfiguration does this when deployed)."""
    allowed = allowed_methods(path)
    if not allowed:
        return error_response(AppError(ErrorCode.ROUTE_NOT_FOUND))
    headers = cors_config().to_dict(origin)
    if headers:
        headers["Access-Control-Allow-Methods"] = ",".join([*allowed, "OPTIONS"])
    return Response(204, None, "", headers)
