"""The catch-all ($default) and docs functions through their handlers."""

import pytest

from investment_system.http.resolver import SECURITY_HEADERS
from tests.support.functions import invoke


def test_unknown_path_is_404_route_not_found():
    reply = invoke("NotFoundFunction", "GET", "/v1/nowhere", route="$default")
    assert reply.status == 404
    assert reply.error_code == "ROUTE_NOT_FOUND"
    assert reply.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path", ["/v1/signals/", "/v1/signals//close", "/v1/signals/abc/close/more", "/v1/users/me/", "/v1/users"]
)
def test_a_path_no_route_has_is_404_whatever_its_likeness_to_one(path):
    # Given a path a route's template would take but for an empty, an extra or a missing segment
    # When the catch-all answers it
    reply = invoke("NotFoundFunction", "DELETE", path, route="$default")
    # Then it is not found, not a 405 with some route's methods
    assert reply.status == 404
    assert reply.error_code == "ROUTE_NOT_FOUND"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/v1/health", "GET"),
        ("DELETE", "/v1/signals", "GET, POST"),
        ("PUT", "/v1/signals/0b0f6c1e-4a59-4e0a-9d36-2f4f8c2b7a10", "DELETE, GET, PATCH"),
        ("TRACE", "/v1/users/me", "GET, PATCH"),
        ("GET", "/v1/signals/0b0f6c1e-4a59-4e0a-9d36-2f4f8c2b7a10/close", "POST"),
        ("PUT", "/v1/signals/analytics", "DELETE, GET, PATCH"),  # also the path of a signal named "analytics"
    ],
)
def test_known_path_with_another_method_is_405_with_allow(method, path, allowed):
    reply = invoke("NotFoundFunction", method, path, route="$default")
    assert reply.status == 405
    assert reply.error_code == "METHOD_NOT_ALLOWED"
    assert reply.headers["Allow"] == allowed


def test_preflight_lists_the_methods_of_the_path_for_an_allowed_origin():
    reply = invoke(
        "NotFoundFunction",
        "OPTIONS",
        "/v1/signals/0b0f6c1e-4a59-4e0a-9d36-2f4f8c2b7a10",
        route="$default",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "PATCH"},
    )
    assert reply.status == 204
    assert reply.headers["Access-Control-Allow-Methods"] == "DELETE,GET,PATCH,OPTIONS"
    assert "Authorization" in reply.headers["Access-Control-Allow-Headers"]
    assert reply.headers["X-Correlation-ID"]


def test_a_body_that_is_not_json_is_415_not_a_crash(sqlite_db):
    reply = invoke(
        "HealthFunction", "GET", "/v1/health", body="--x\r\n", headers={"content-type": "multipart/form-data"}
    )
    assert reply.status == 415
    assert reply.error_code == "UNSUPPORTED_MEDIA_TYPE"


def test_docs_page_works_offline_with_its_own_csp():
    page = invoke("DocsFunction", "GET", "/v1/docs")
    assert page.status == 200
    assert "/v1/docs/swagger-ui-bundle.min.js" in page.text
    assert "https://" not in page.text.split("<body>", 1)[0]  # no CDN assets
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    asset = invoke(
        "DocsFunction",
        "GET",
        "/v1/docs/swagger-ui-bundle.min.js",
        route="/v1/docs/{asset}",
        path_parameters={"asset": "swagger-ui-bundle.min.js"},
    )
    assert asset.status == 200
    assert "SwaggerUIBundle" in asset.text


def test_the_docs_are_read_from_the_layer_once_per_container(monkeypatch):
    # Given the docs function, its page, document and script served once
    from importlib import resources
    from pathlib import Path

    def docs_asset():
        return invoke(
            "DocsFunction",
            "GET",
            "/v1/docs/swagger-ui-bundle.min.js",
            route="/v1/docs/{asset}",
            path_parameters={"asset": "swagger-ui-bundle.min.js"},
        )

    def served():
        return [invoke("DocsFunction", "GET", path) for path in ("/v1/docs", "/v1/openapi.json")] + [docs_asset()]

    first = served()

    # When they are asked for again, with the layer's files out of reach
    def unreadable(*args, **kwargs):
        raise AssertionError("a file of the layer was read again")

    monkeypatch.setattr(Path, "read_text", unreadable)
    monkeypatch.setattr(resources, "files", unreadable)
    again = served()
    # Then each is answered as before, from memory (the script alone is 1.5 MB)
    assert [reply.status for reply in again] == [200, 200, 200]
    assert [reply.text for reply in again] == [reply.text for reply in first]


def test_openapi_document_is_served():
    reply = invoke("DocsFunction", "GET", "/v1/openapi.json")
    assert reply.status == 200
    assert reply.json["openapi"].startswith("3.")
    assert "/v1/signals" in reply.json["paths"]


def test_the_docs_page_links_the_document_the_api_serves():
    # When the docs page is opened
    page = invoke("DocsFunction", "GET", "/v1/docs")
    # Then its link to the document is /v1/openapi.json (Powertools' own would be /v1/docs?format=json, a 422 here)
    assert 'ui.specActions.updateUrl("/v1/openapi.json")' in page.text
    assert "?format=json" not in page.text
    # And that link serves the document
    assert invoke("DocsFunction", "GET", "/v1/openapi.json").json["openapi"].startswith("3.")


def test_a_body_that_is_not_utf8_is_400_malformed_json(sqlite_db):
    from invest_dev.events import LambdaContextStub, http_event
    from tests.support.functions import Reply, function_module

    event = http_event("POST", "/v1/auth/login", headers={"content-type": "application/json"}, body=b"\xff\xfe{")
    reply = Reply(function_module("LoginFunction").handler(event, LambdaContextStub()))
    assert reply.status == 400
    assert reply.error_code == "MALFORMED_JSON"
