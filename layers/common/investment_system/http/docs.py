"""The Swagger UI page, with the assets Powertools ships served by the API itself (no CDN)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

from investment_system.errors import AppError, ErrorCode
from investment_system.http.routing import openapi_document

DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)
OPENAPI_PATH = "/v1/openapi.json"
# Powertools' page links its document at the page's own URL with ?format=json, which Powertools' own
# docs route would answer; this API serves the document at OPENAPI_PATH (functions/system/docs.py).
_POWERTOOLS_DOCUMENT_URL = 'currentUrl.pathname + "?format=json"'
_ASSETS = {
    "swagger-ui-bundle.min.js": "application/javascript; charset=utf-8",
    "swagger-ui.min.css": "text/css; charset=utf-8",
}


@cache  # the page, its document and its assets are the layer's release: made once per container
def swagger_page() -> str:
    page = generate_swagger_html(
        spec=openapi_document(),
        swagger_js="/v1/docs/swagger-ui-bundle.min.js",
        swagger_css="/v1/docs/swagger-ui.min.css",
        swagger_base_url="/v1/docs",
        oauth2_config=None,
    )
    if _POWERTOOLS_DOCUMENT_URL not in page:
        raise RuntimeError("Powertools' Swagger UI page no longer links its document as http/docs.py expects")
    return page.replace(_POWERTOOLS_DOCUMENT_URL, json.dumps(OPENAPI_PATH))


# The assets' names: what the docs function's replay before a SnapStart snapshot asks for (functions/system/docs.py).
SWAGGER_ASSETS = tuple(_ASSETS)


def swagger_asset(name: str) -> tuple[str, str]:
    if name not in _ASSETS:
        raise AppError(ErrorCode.ROUTE_NOT_FOUND)
    return _ASSETS[name], _asset_text(name)


@cache  # the Swagger UI script is large: read and decoded once per container, not per request
def _asset_text(name: str) -> str:
    package = "aws_lambda_powertools.event_handler.openapi.swagger_ui"
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")
