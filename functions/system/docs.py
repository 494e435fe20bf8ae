"""GET /v1/openapi.json and GET /v1/docs: the OpenAPI document and an offline Swagger UI; GET /v1/docs/live:
the live view of the real-time stream."""

from investment_system.entrypoints import SampleRequest, http_handler
from investment_system.http import RateLimit, Response, content_types, create_app, route_facts
from investment_system.http.docs import DOCS_CSP, OPENAPI_PATH, SWAGGER_ASSETS, swagger_asset, swagger_page
from investment_system.http.live import LIVE_CSP, LIVE_PAGE
from investment_system.http.routing import openapi_document

app = create_app(validation=False)  # no parameters, body or token: nothing to validate


@app.get(OPENAPI_PATH, include_in_schema=False, openapi_extensions=route_facts(rate_limit=RateLimit.NONE))
def get_openapi() -> Response[str]:
    return Response(200, content_types.APPLICATION_JSON, openapi_document())


@app.get("/v1/docs", include_in_schema=False, openapi_extensions=route_facts(rate_limit=RateLimit.NONE))
def get_docs() -> Response[str]:
    return Response(200, "text/html; charset=utf-8", swagger_page(), {"Content-Security-Policy": DOCS_CSP})


# Before /v1/docs/<asset>, which would take it (API Gateway sends it through the same {asset} route).
@app.get("/v1/docs/live", include_in_schema=False, openapi_extensions=route_facts(rate_limit=RateLimit.NONE))
def get_live_view() -> Response[str]:
    return Response(200, "text/html; charset=utf-8", LIVE_PAGE, {"Content-Security-Policy": LIVE_CSP})


@app.get("/v1/docs/<asset>", include_in_schema=False, openapi_extensions=route_facts(rate_limit=RateLimit.NONE))
def get_docs_asset(asset: str) -> Response[str]:
    content_type, body = swagger_asset(asset)
    return Response(200, content_type, body, {"Cache-Control": "public, max-age=86400"})


handler = http_handler(app, sample=lambda _: [SampleRequest(path={"asset": asset}) for asset in SWAGGER_ASSETS])
