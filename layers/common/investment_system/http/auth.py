"""Authentication and roles, declared per route as Powertools dependencies (`CurrentUser`, `AdminUser`).

The bearer token is read from the event and verified here, under API Gateway and the local gateway
alike; the user and the token's session are read on every request, so a disabled account, an ended
session or an older token epoch stops working at once (for a GET on its own, otherwise the first
statement of the transaction the route's change continues). `AuthenticateBeforeValidation` resolves
a route's `@authentication` dependencies before Powertools validates the request, so a protected
route answers 401/403 before 400, 415 or 422 and never reveals its schema (docs/security.md).
"""

# No `from __future__ import annotations`: Powertools reads the dependencies' type hints (once per
# function: http/compat.py), and postponed ones would be strings it compiles first.
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Depends, Request, Response
from aws_lambda_powertools.event_handler.middlewares import BaseMiddlewareHandler, NextMiddleware

from investment_system.errors import AuthenticationError, ErrorCode, PermissionDenied
from investment_system.http.compat import (
    DependencyTree,
    Route,
    current_route,
    dependency_tree,
    solve_route_dependencies,
    wrap_request_validation,
)
from investment_system.http.headers import bearer_token_from

BEARER_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]

_AUTHENTICATION_DEPENDENCIES: set[Callable[..., Any]] = set()


def authentication[Dependency: Callable[..., Any]](dependency: Dependency) -> Dependency:
    """Mark a route dependency as authentication: resolved before the request is validated."""
    _AUTHENTICATION_DEPENDENCIES.add(dependency)
    return dependency


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    role: str
    session_id: uuid.UUID  # the access token's `sid`: the login it belongs to

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def bearer_token(request: Request) -> str:
    token = bearer_token_from(request.headers)
    if token is None:
        raise AuthenticationError(ErrorCode.AUTHENTICATION_REQUIRED)
    return token


@authentication
def authenticated(request: Request) -> Principal:
    """The caller, from a live access token of an active user: 401 or 403 ACCOUNT_DISABLED otherwise."""
    from investment_system.services.accounts.authentication import caller_role
    from investment_system.services.accounts.tokens import verify_access_token

    claims = verify_access_token(bearer_token(request))
    user_id, session_id = uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
    role = caller_role(user_id, session_id, claims["epoch"])
    return Principal(user_id=user_id, role=role, session_id=session_id)


@authentication
def admin(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
    """The caller, when an administrator; 403 PERMISSION_DENIED otherwise."""
    if not principal.is_admin:
        raise PermissionDenied(ErrorCode.PERMISSION_DENIED)
    return principal


CurrentUser = Annotated[Principal, Depends(authenticated)]
AdminUser = Annotated[Principal, Depends(admin)]

_authentication_by_route: dict[Route, DependencyTree] = {}


def _authentication_of(route: Route) -> DependencyTree:
    """The route's authentication dependencies (CurrentUser, AdminUser...; also where another dependency
    of the route needs one), without its other dependencies; worked out once per route."""
    cached = _authentication_by_route.get(route)
    if cached is None:
        cached = DependencyTree(dependencies=_authentication_nodes(dependency_tree(route.func)))
        _authentication_by_route[route] = cached
    return cached


def _authentication_nodes(tree: DependencyTree) -> list[Any]:
    found = []
    for node in tree.dependencies:
        if node.depends.dependency in _AUTHENTICATION_DEPENDENCIES:
            found.append(node)
        else:
            found += _authentication_nodes(node.dependant)
    return found


class AuthenticateBeforeValidation(BaseMiddlewareHandler[APIGatewayHttpResolver]):
    """Powertools' request validation, preceded by the route's authentication.

    The principal lands in the request's dependency cache, where Powertools finds it when it
    calls the route: the token is verified once per request.
    """

    def __init__(self, validation: BaseMiddlewareHandler[APIGatewayHttpResolver]) -> None:
        super().__init__()
        self.validation = validation

    def handler(self, app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        route = current_route(app)
        authentication = _authentication_of(route) if route is not None else None
        if authentication is None or not authentication.dependencies:
            return self.validation(app, next_middleware)
        from investment_system.services.accounts.authentication import end_of_request

        try:
            solve_route_dependencies(app, authentication)
            return self.validation(app, next_middleware)
        finally:
            end_of_request()


def authenticate_before_validation(app: APIGatewayHttpResolver) -> None:
    """Make `app` authenticate protected routes before it validates their requests."""
    wrap_request_validation(app, AuthenticateBeforeValidation)
