"""Builds the API's one OpenAPI document from every function of template.yaml.

Each function has its own resolver with its own routes; this imports them all, asks each for its
part of the document and merges the parts. The result is bundled with the layer
(`investment_system/openapi.json`), where the docs and catch-all functions read it at run time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, SecurityScheme

from invest_dev.template import TEMPLATE, http_functions, import_function
from investment_system import __version__

BUNDLED = Path(__file__).resolve().parents[2] / "layers/common/investment_system/openapi.json"
TITLE = "Investment System API"
DESCRIPTION = (
    "Users, trading signals with analytics, and billing with plan quotas. Every error has the body "
    '`{"error": {code, message, details, correlation_id, timestamp}}`; every response carries '
    "X-Correlation-ID and the security headers of the contract."
)
_POWERTOOLS_VALIDATION_REF = "#/components/schemas/HTTPValidationError"
_ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"
SECURITY_SCHEMES: dict[str, SecurityScheme] = {"bearerAuth": HTTPBearer(bearerFormat="JWT")}


def build_document(template: Path = TEMPLATE) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for spec in http_functions(template):
        app = getattr(import_function(spec), "app", None)
        if app is None:
            continue
        # Powertools refuses a route's `security` unless the scheme it names is passed here.
        part = json.loads(
            app.get_openapi_json_schema(title=TITLE, version=__version__, security_schemes=SECURITY_SCHEMES)
        )
        for path, operations in part.get("paths", {}).items():
            paths.setdefault(path, {}).update(operations)
        schemas.update(part.get("components", {}).get("schemas", {}))
    # Powertools documents its own 422 body; ours is the contract's envelope.
    _replace_refs(paths, _POWERTOOLS_VALIDATION_REF, _ENVELOPE_REF)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": __version__, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _replace_refs(node: Any, old: str, new: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and value == old:
                node[key] = new
            else:
                _replace_refs(value, old, new)
    elif isinstance(node, list):
        for item in node:
            _replace_refs(item, old, new)


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
