"""The one module that knows Powertools' internals.

Powertools' public API has no hook for what this layer needs here: authenticating a route before its
request is validated, the route a request resolved to and its declared parameters, the per-request
dependency cache, and the route validators SnapStart priming builds. Each private name is reached
here and nowhere else (a test keeps it so), and nothing of Powertools is patched;
`compatibility_problems()` checks them against the installed Powertools, naming its version and this
module when an upgrade breaks one. Why each stays: docs/cold-start.md#deviations-from-library-apis.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.api_gateway import _DEPENDS_CACHE_KEY, Route
from aws_lambda_powertools.event_handler.depends import DependencyTree, build_dependency_tree, solve_dependencies
from aws_lambda_powertools.event_handler.middlewares import BaseMiddlewareHandler

__all__ = [
    "DependencyTree",
    "Route",
    "compatibility_problems",
    "current_route",
    "dependency_tree",
    "is_registered_route",
    "prime_validation",
    "query_parameter_names",
    "registered_routes",
    "solve_route_dependencies",
    "wrap_request_validation",
]

_ROUTE_KEY = "_route"
_VALIDATION_ATTRIBUTE = "_request_validation_middleware"


def current_route(app: APIGatewayHttpResolver) -> Route | None:
    """The route the current request resolved to (inside middlewares and handlers)."""
    route: Route | None = app.context.get(_ROUTE_KEY)
    return route


def registered_routes(app: APIGatewayHttpResolver) -> list[Route]:
    """The routes the app declared (not Powertools' synthetic not-found route)."""
    return [*app._static_routes, *app._dynamic_routes]


def is_registered_route(app: APIGatewayHttpResolver, route: Route) -> bool:
    """Whether `route` is one the app declared, not Powertools' synthetic not-found route."""
    return route in registered_routes(app)


def prime_validation(app: APIGatewayHttpResolver, route: Route) -> None:
    """Build what Powertools builds on a route's first request to validate it: the route's dependant (its
    parameters' and response's fields) and its body's field, and each field's pydantic validator. A field's
    `TypeAdapter` of a model that defers its build (`schemas.ApiModel`) would build it on first use."""
    validated = app._enable_validation if route.enable_validation is None else route.enable_validation
    if validated:
        flat = _flat_dependant(route)
        fields = [*flat.path_params, *flat.query_params, *flat.header_params, *flat.cookie_params]
        fields += [field for field in (route.body_field, route.dependant.return_param) if field is not None]
        for field in fields:
            field._type_adapter.rebuild()


@cache
def query_parameter_names(route: Route) -> frozenset[str]:
    """The query parameters the route declares, by their names on the wire (worked out once per route)."""
    return frozenset(field.alias for field in _flat_dependant(route).query_params)


def _flat_dependant(route: Route) -> Any:
    """The route's parameters and body, as Powertools' validation sees them. Its OpenAPI parameter module
    is imported here, on first use: apps without validation (health, docs, the catch-all) never load it."""
    from aws_lambda_powertools.event_handler.openapi.params import get_flat_dependant

    return get_flat_dependant(route.dependant)


def solve_route_dependencies(app: APIGatewayHttpResolver, dependencies: DependencyTree) -> None:
    """Resolve `dependencies` now, into the request's cache, where the route's call finds them."""
    solve_dependencies(
        dependant=dependencies,
        request=app.request,
        dependency_overrides=app.dependency_overrides or None,
        dependency_cache=app.context.setdefault(_DEPENDS_CACHE_KEY, {}),
    )


dependency_tree = cache(build_dependency_tree)
"""A function's dependency tree (`Depends` parameters, recursively), worked out once per function."""


Wrapper = Callable[[BaseMiddlewareHandler[APIGatewayHttpResolver]], BaseMiddlewareHandler[APIGatewayHttpResolver]]


def wrap_request_validation(app: APIGatewayHttpResolver, wrapper: Wrapper) -> None:
    """Replace the app's request-validation step (the first middleware of every route) by `wrapper(step)`."""
    setattr(app, _VALIDATION_ATTRIBUTE, wrapper(getattr(app, _VALIDATION_ATTRIBUTE)))


def compatibility_problems() -> list[str]:
    """What no longer holds of the assumptions above, in the installed Powertools (empty when all hold)."""
    problems: list[str] = []
    app = APIGatewayHttpResolver(enable_validation=True)
    if not isinstance(getattr(app, _VALIDATION_ATTRIBUTE, None), BaseMiddlewareHandler):
        problems.append(f"APIGatewayHttpResolver(enable_validation=True) has no middleware in {_VALIDATION_ATTRIBUTE}")
    for name in ("_static_routes", "_dynamic_routes"):
        if not isinstance(getattr(app, name, None), list):
            problems.append(f"APIGatewayHttpResolver.{name} is no longer a list of routes")
    if getattr(app, "_enable_validation", None) is not True:
        problems.append("APIGatewayHttpResolver._enable_validation no longer says whether routes are validated")
    if not isinstance(_DEPENDS_CACHE_KEY, str):
        problems.append("api_gateway._DEPENDS_CACHE_KEY is no longer the context key of the dependency cache")
    seen: dict[str, Any] = {}

    def look(app: APIGatewayHttpResolver, next_middleware: Any) -> Any:
        route = current_route(app)
        seen["route"] = route
        seen["registered"] = route is not None and is_registered_route(app, route)
        seen["query"] = query_parameter_names(route) if route is not None else set()
        seen["fields"] = [*_flat_dependant(route).query_params, route.dependant.return_param] if route else []
        return next_middleware(app)

    @app.get("/probe", middlewares=[look])
    def probe(q: str | None = None) -> dict[str, str]:
        return {}

    event = {
        "version": "2.0",
        "routeKey": "GET /probe",
        "rawPath": "/probe",
        "rawQueryString": "",
        "headers": {},
        "requestContext": {"http": {"method": "GET", "path": "/probe"}, "stage": "$default"},
    }
    app.resolve(event, None)  # type: ignore[arg-type]
    if not seen.get("registered"):
        problems.append(f'app.context["{_ROUTE_KEY}"] no longer holds the registered route during a request')
    elif seen["query"] != {"q"}:
        problems.append("get_flat_dependant(route.dependant).query_params no longer lists a route's query parameters")
    elif not all(callable(getattr(getattr(f, "_type_adapter", None), "rebuild", None)) for f in seen["fields"]):
        problems.append("a route's ModelField no longer validates through a pydantic TypeAdapter in _type_adapter")
    from importlib.metadata import version

    upgrade = f"aws-lambda-powertools {version('aws-lambda-powertools')}"
    return [f"{upgrade}: {problem}; adapt investment_system/http/compat.py" for problem in problems]
